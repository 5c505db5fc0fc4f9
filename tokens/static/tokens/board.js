// The live board: rows arrive over the websocket as batches and are inserted newest first.
// Every value from a token is attacker-chosen: it goes into the page with textContent or, for
// links, only after it parses as an http(s) URL. Never innerHTML.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("board-config").textContent);
  const rows = document.getElementById("token-rows");
  const rowTemplate = document.getElementById("token-row-template");
  const connection = document.getElementById("connection-state");
  const runStatus = document.getElementById("run-status");
  const progressBar = document.getElementById("progress-bar");
  const progressText = document.getElementById("progress-text");
  const runError = document.getElementById("run-error");
  const emptyState = document.getElementById("empty-state");
  const cancelButton = document.getElementById("cancel-run");
  const resumeButton = document.getElementById("resume-run");
  const form = document.getElementById("load-form");
  const formError = document.getElementById("form-error");
  const MAX_ROWS = 1000;
  const ACTIVE = new Set(["queued", "running"]);

  let currentRunId = config.latest_run ? config.latest_run.run_id : null;
  let retryDelay = 500;
  // The cursor of the last stored batch this page has; batches carry consecutive cursors, so a
  // jump means a missed batch, and the API hands over everything after our cursor.
  let lastCursor = config.cursor;
  let catchUpRunning = false;
  let catchUpAgain = false;

  // Formatting mirrors tokens/templatetags/board.py.
  function compactUsd(value) {
    if (typeof value !== "number" || !isFinite(value)) return "—";
    const steps = [[1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (const [threshold, suffix] of steps) {
      if (Math.abs(value) >= threshold) return "$" + (value / threshold).toFixed(1) + suffix;
    }
    return "$" + value.toFixed(0);
  }

  function age(createdMs) {
    if (typeof createdMs !== "number" || !isFinite(createdMs)) return "—";
    const seconds = Math.max(0, Math.floor((Date.now() - createdMs) / 1000));
    const spans = [[86400, "d"], [3600, "h"], [60, "m"]];
    for (const [span, suffix] of spans) {
      if (seconds >= span) return Math.floor(seconds / span) + suffix;
    }
    return seconds + "s";
  }

  function percent(value) {
    return typeof value === "number" && isFinite(value) ? value.toFixed(0) + "%" : "—";
  }

  function countOrDash(value) {
    return typeof value === "number" && isFinite(value) ? value.toLocaleString("en-US") : "—";
  }

  function shortMint(mint) {
    return mint.length > 10 ? mint.slice(0, 4) + "…" + mint.slice(-4) : mint;
  }

  function httpUrl(value) {
    if (typeof value !== "string" || value === "") return null;
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function setText(row, field, text) {
    row.querySelector('[data-field="' + field + '"]').textContent = text;
  }

  function setLink(anchor, url) {
    if (url) {
      anchor.href = url;
      anchor.hidden = false;
    } else {
      anchor.removeAttribute("href");
      anchor.hidden = true;
    }
  }

  function renderRow(token) {
    const row = rowTemplate.content.firstElementChild.cloneNode(true);
    row.id = "token-" + token.mint;
    row.dataset.mint = token.mint;
    row.dataset.created = String(token.created_timestamp);
    setText(row, "symbol", token.symbol || "");
    setText(row, "name", token.name || "");
    const image = row.querySelector('[data-field="image_uri"]');
    const imageUrl = httpUrl(token.image_uri);
    if (imageUrl) {
      image.src = imageUrl;
      image.hidden = false;
    }
    const mintLink = row.querySelector('[data-field="mint"]');
    mintLink.href = "https://pump.fun/coin/" + encodeURIComponent(token.mint);
    mintLink.title = token.mint;
    mintLink.textContent = shortMint(token.mint);
    setText(row, "age", age(token.created_timestamp));
    setText(row, "usd_market_cap", compactUsd(token.usd_market_cap));
    setText(row, "bonding_progress", percent(token.bonding_progress));
    setText(row, "holders", countOrDash(token.holders));
    setText(row, "reply_count", countOrDash(token.reply_count));
    for (const name of ["twitter", "telegram", "website"]) {
      setLink(row.querySelector('[data-link="' + name + '"]'), httpUrl(token[name]));
    }
    return row;
  }

  // A row that arrives again replaces itself; new rows go in newest-first order.
  function upsertRow(token) {
    const row = renderRow(token);
    const existing = document.getElementById(row.id);
    if (existing) existing.remove();
    const created = token.created_timestamp;
    let before = null;
    for (const candidate of rows.children) {
      if (Number(candidate.dataset.created) < created) {
        before = candidate;
        break;
      }
    }
    rows.insertBefore(row, before);
  }

  function applyChanges(tokens, removed) {
    for (const mint of removed || []) {
      const row = document.getElementById("token-" + mint);
      if (row) row.remove();
    }
    if (config.live_inserts) {
      for (const token of tokens) upsertRow(token);
      while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
    }
    emptyState.hidden = rows.children.length > 0;
  }

  async function catchUp() {
    if (catchUpRunning) {
      catchUpAgain = true;
      return;
    }
    catchUpRunning = true;
    try {
      do {
        catchUpAgain = false;
        let more = true;
        while (more) {
          const response = await fetch(config.api_tokens + "?after=" + lastCursor, {headers: {"Accept": "application/json"}});
          if (!response.ok) throw new Error("catch-up failed (HTTP " + response.status + ")");
          const data = await response.json();
          applyChanges(data.tokens, data.removed);
          lastCursor = Math.max(lastCursor, data.cursor);
          more = data.more;
        }
      } while (catchUpAgain);
      window.boardCaughtUp = lastCursor;
    } catch (error) {
      // The next batch or reconnect tries again; the cursor has not moved past what we lack.
      setConnection("reconnecting", "catching up failed, retrying…");
    } finally {
      catchUpRunning = false;
    }
  }

  function showProgress(status, progress) {
    const parts = [progress.processed + " processed"];
    if (progress.estimated_total) parts[0] += " of ~" + progress.estimated_total;
    parts.push(progress.accepted + " accepted", progress.rejected + " rejected",
      progress.invalid + " invalid", progress.failed + " failed", progress.batches + " batches");
    progressText.textContent = parts.join(" · ");
    if (status === "succeeded") {
      progressBar.value = 100;
    } else if (typeof progress.percent === "number") {
      progressBar.value = progress.percent;
    } else if (ACTIVE.has(status)) {
      progressBar.removeAttribute("value"); // indeterminate until the total can be estimated
    }
  }

  function showRun(message) {
    currentRunId = message.run_id;
    runStatus.textContent = "#" + message.run_id + " " + message.status;
    runStatus.dataset.status = message.status;
    runError.textContent = message.error || "";
    runError.hidden = !message.error;
    if (cancelButton) cancelButton.hidden = !ACTIVE.has(message.status);
    if (resumeButton) resumeButton.hidden = !message.resumable;
    showProgress(message.status, message.progress);
  }

  function handle(message) {
    if (message.type === "batch") {
      applyChanges(message.tokens, message.removed);
      if (message.cursor === lastCursor + 1 && !catchUpRunning) {
        lastCursor = message.cursor;
      } else if (message.cursor > lastCursor) {
        catchUp();
      }
      currentRunId = message.run_id;
      runStatus.textContent = "#" + message.run_id + " running";
      showProgress("running", message.progress);
    } else if (message.type === "run") {
      showRun(message);
    }
  }

  function setConnection(state, label) {
    connection.dataset.state = state;
    connection.textContent = label;
    window.boardConnected = state === "live";
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + config.ws_path);
    socket.addEventListener("open", function () {
      retryDelay = 500;
      setConnection("live", "connected");
      catchUp(); // whatever was stored while we were away, or since the page was rendered
    });
    socket.addEventListener("message", function (event) {
      handle(JSON.parse(event.data));
    });
    socket.addEventListener("close", function () {
      setConnection("reconnecting", "reconnecting…");
      // Exponential backoff with jitter, so a restarted server is not hit by every page at once.
      window.setTimeout(connect, retryDelay * (0.5 + Math.random()));
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
    window.boardSocket = socket;
  }

  function csrfToken() {
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      body: body,
      headers: {"Accept": "application/json", "X-CSRFToken": csrfToken()},
      credentials: "same-origin",
    });
    const data = await response.json().catch(function () { return {}; });
    if (!response.ok) throw new Error(data.error || "request failed (HTTP " + response.status + ")");
    return data;
  }

  if (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      formError.textContent = "";
      try {
        const data = await post(form.action, new FormData(form));
        currentRunId = data.run_id;
        runStatus.textContent = "#" + data.run_id + " " + data.status;
        if (cancelButton) cancelButton.hidden = false;
      } catch (error) {
        formError.textContent = error.message;
      }
    });
  }

  function runAction(button) {
    if (!button) return;
    button.addEventListener("click", async function () {
      if (currentRunId === null) return;
      const url = button.dataset.urlTemplate.replace("/0/", "/" + currentRunId + "/");
      try {
        await post(url, new FormData());
      } catch (error) {
        formError.textContent = error.message;
      }
    });
  }

  runAction(cancelButton);
  runAction(resumeButton);

  window.setInterval(function () {
    for (const row of rows.children) {
      row.querySelector('[data-field="age"]').textContent = age(Number(row.dataset.created));
    }
  }, 30000);

  if (config.latest_run) showRun(Object.assign({type: "run"}, config.latest_run));
  connect();
})();
