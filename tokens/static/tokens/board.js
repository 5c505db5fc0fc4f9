// The live board. Rows arrive over the websocket as batches; the page keeps them in one map keyed
// by mint (so a token that arrives twice replaces itself) and renders that map sorted and filtered.
// Every value from a token is attacker-chosen: it reaches the page through textContent or, for
// links, only after it parses as an http(s) URL. Never innerHTML.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("board-config").textContent);
  const $ = (id) => document.getElementById(id);
  const rowsBody = $("token-rows");
  const rowTemplate = $("token-row-template");
  const connection = $("connection-state");
  const runStatus = $("run-status");
  const progressBar = $("progress-bar");
  const progressText = $("progress-text");
  const runError = $("run-error");
  const runWarning = $("run-warning");
  const runUpstream = $("run-upstream");
  const UPSTREAM_NAMES = {chain: "chain", api: "web API"};
  const emptyState = $("empty-state");
  const pendingNote = $("pending-note");
  const loadingState = $("loading-state");
  const cancelButton = $("cancel-run");
  const resumeButton = $("resume-run");
  const form = $("load-form");
  const formError = $("form-error");
  const quickFilter = $("quick-filter");
  const pauseButton = $("pause-button");
  const bufferedNote = $("buffered");
  const rowCount = $("row-count");
  const loadOlder = $("load-older");
  const ACTIVE = new Set(["queued", "running"]);
  const TEXT_KEYS = new Set(["symbol", "sources"]);

  const tokens = new Map(); // mint -> token payload
  const deadImages = new Set(); // image links that failed to load
  const elements = new Map(); // mint -> <tr>
  let rowCap = 1000; // newest first; "Load older" raises it
  let olderOffset = config.initial_tokens.length;
  let sortKey = localStorage.getItem("board.sortKey") || "created_timestamp";
  let sortDescending = localStorage.getItem("board.sortDir") !== "asc";
  let paused = false;
  let buffer = [];
  const waitingMints = new Set(); // mints held back by Pause that the board does not show yet
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

  const percent = (v) => (typeof v === "number" && isFinite(v) ? v.toFixed(0) + "%" : "—");
  const countOrDash = (v) => (typeof v === "number" && isFinite(v) ? v.toLocaleString("en-US") : "—");
  const shortMint = (mint) => (mint.length > 10 ? mint.slice(0, 4) + "…" + mint.slice(-4) : mint);

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

  function fillRow(row, token) {
    row.id = "token-" + token.mint;
    row.dataset.mint = token.mint;
    row.dataset.created = String(token.created_timestamp);
    setText(row, "symbol", token.symbol || "");
    setText(row, "name", token.name || "");
    const image = row.querySelector('[data-field="image_uri"]');
    const imageUrl = httpUrl(token.image_uri);
    if (imageUrl && !deadImages.has(imageUrl)) {
      if (image.getAttribute("src") !== imageUrl) image.src = imageUrl;
      image.hidden = false;
    } else {
      image.removeAttribute("src");
      image.hidden = true;
    }
    const mintLink = row.querySelector('[data-field="mint"]');
    mintLink.href = "https://pump.fun/coin/" + encodeURIComponent(token.mint);
    mintLink.title = token.mint + " on pump.fun";
    mintLink.textContent = shortMint(token.mint);
    row.querySelector(".copy").dataset.copy = token.mint;
    row.querySelector('[data-link="solscan"]').href = "https://solscan.io/token/" + encodeURIComponent(token.mint);
    setText(row, "age", age(token.created_timestamp));
    setText(row, "usd_market_cap", compactUsd(token.usd_market_cap));
    setText(row, "bonding_progress", token.complete ? "graduated" : percent(token.bonding_progress));
    row.classList.toggle("pending", token.pending === true);
    setText(row, "holders", countOrDash(token.holders));
    setText(row, "reply_count", countOrDash(token.reply_count));
    for (const name of ["twitter", "telegram", "website"]) {
      setLink(row.querySelector('[data-link="' + name + '"]'), httpUrl(token[name]));
    }
    const badges = row.querySelector('[data-field="sources"]');
    badges.replaceChildren();
    for (const source of token.sources || []) {
      const badge = document.createElement("span");
      badge.className = "badge badge-" + (source === "trending" ? "trending" : "recent");
      badge.textContent = source;
      badges.appendChild(badge);
    }
  }

  function rowFor(token) {
    let row = elements.get(token.mint);
    if (!row) {
      row = rowTemplate.content.firstElementChild.cloneNode(true);
      const image = row.querySelector('[data-field="image_uri"]');
      image.addEventListener("error", () => {
        // Dead links: no broken icon, now or when the row is drawn again with the same link.
        deadImages.add(image.src);
        image.hidden = true;
      });
      elements.set(token.mint, row);
    }
    fillRow(row, token);
    return row;
  }

  function sortValue(token, key) {
    if (key === "sources") return (token.sources || []).join(",");
    if (key === "symbol") return (token.symbol || "").toLowerCase();
    const value = token[key];
    return typeof value === "number" && isFinite(value) ? value : null;
  }

  function compare(a, b) {
    const x = sortValue(a, sortKey);
    const y = sortValue(b, sortKey);
    if (x === y) return b.created_timestamp - a.created_timestamp;
    if (x === null) return 1; // unknown values last, whichever the direction
    if (y === null) return -1;
    const order = x < y ? -1 : 1;
    return sortDescending ? -order : order;
  }

  function matches(token, needle) {
    if (!needle) return true;
    return [token.name, token.symbol, token.mint].some((v) => (v || "").toLowerCase().includes(needle));
  }

  function trimToCap() {
    if (tokens.size <= rowCap) return;
    const newestFirst = [...tokens.values()].sort((a, b) => b.created_timestamp - a.created_timestamp);
    for (const token of newestFirst.slice(rowCap)) {
      tokens.delete(token.mint);
      elements.delete(token.mint);
    }
  }

  function render() {
    const needle = quickFilter.value.trim().toLowerCase();
    const shown = [...tokens.values()].filter((t) => matches(t, needle)).sort(compare);
    const rows = shown.map(rowFor);
    rowsBody.replaceChildren(...rows);
    emptyState.hidden = tokens.size > 0;
    pendingNote.hidden = !shown.some((token) => token.pending === true);
    loadingState.hidden = !(tokens.size === 0 && runStatus.dataset.status === "running");
    rowCount.textContent = needle ? shown.length + " of " + tokens.size + " shown" : tokens.size + " shown";
    window.boardRowCount = rows.length;
  }

  function applyChanges(changed, removed) {
    for (const mint of removed || []) {
      tokens.delete(mint);
      elements.delete(mint);
    }
    for (const token of changed) tokens.set(token.mint, token);
    trimToCap();
    render();
  }

  function receiveTokens(changed, removed) {
    if (!config.live_inserts) return; // an older page (?page=N): live rows belong on the newest one
    if (paused) {
      buffer.push([changed, removed]);
      // Rows not on the board yet: a token delivered again (a re-run, a catch-up) is not new.
      for (const token of changed) if (!tokens.has(token.mint)) waitingMints.add(token.mint);
      bufferedNote.textContent = waitingMints.size + " new while paused";
      window.boardWaiting = waitingMints.size;
      return;
    }
    applyChanges(changed, removed);
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
          receiveTokens(data.tokens, data.removed);
          lastCursor = Math.max(lastCursor, data.cursor);
          more = data.more;
        }
      } while (catchUpAgain);
      window.boardCaughtUp = lastCursor;
    } catch (error) {
      // The next batch or reconnect tries again; the cursor has not moved past what we lack.
      setConnection("error", "catching up failed, retrying…");
    } finally {
      catchUpRunning = false;
    }
  }

  function showProgress(status, progress) {
    const parts = [progress.processed + " processed"];
    if (progress.estimated_total && status !== "succeeded") parts[0] += " of ~" + progress.estimated_total;
    parts.push(progress.accepted + " accepted", progress.rejected + " rejected",
      progress.invalid + " invalid", progress.failed + " failed", progress.batches + " batches");
    if (progress.details_queued) parts.push("details " + progress.details_done + " of " + progress.details_queued);
    progressText.textContent = parts.join(" · ");
    if (status === "succeeded") {
      progressBar.value = 100;
    } else if (typeof progress.percent === "number") {
      progressBar.value = progress.percent;
    } else if (ACTIVE.has(status)) {
      progressBar.removeAttribute("value"); // indeterminate until the total can be estimated
    }
    progressBar.dataset.percent = progressBar.hasAttribute("value") ? String(progressBar.value) : "";
  }

  function showRun(message) {
    currentRunId = message.run_id;
    const following = message.status === "running" && message.following;
    runStatus.textContent = "#" + message.run_id + " " + (following ? "following new launches" : message.status);
    runStatus.dataset.status = message.status;
    runError.textContent = message.error || "";
    runError.hidden = !message.error;
    runWarning.textContent = message.warning || "";
    runWarning.hidden = !message.warning;
    runUpstream.textContent = UPSTREAM_NAMES[message.upstream] || "—";
    if (cancelButton) {
      cancelButton.hidden = !ACTIVE.has(message.status);
      cancelButton.textContent = following ? "Stop following" : "Stop run";
    }
    if (resumeButton) resumeButton.hidden = !message.resumable;
    showProgress(message.status, message.progress);
    render();
  }

  // The cells a detail update can change, by the token field that changed.
  const CELLS = {usd_market_cap: "usd_market_cap", holders: "holders", bonding_progress: "bonding_progress",
    complete: "bonding_progress", image_uri: "image_uri", twitter: "twitter", telegram: "telegram", website: "website"};
  const SORTED_BY = {usd_market_cap: "usd_market_cap", holders: "holders", bonding_progress: "bonding_progress"};

  function applyUpdate(changes, removed) {
    let resort = false;
    for (const mint of removed || []) {
      tokens.delete(mint);
      elements.delete(mint);
      resort = true;
    }
    for (const change of changes) {
      const token = tokens.get(change.mint);
      if (!token) continue; // not on this page
      Object.assign(token, change);
      const row = elements.get(change.mint);
      if (row) {
        fillRow(row, token);
        flash(row, change);
      }
      if (Object.keys(change).some((name) => SORTED_BY[name] === sortKey)) resort = true;
    }
    window.boardUpdates = (window.boardUpdates || 0) + 1;
    if (resort) renderKeepingPlace();
  }

  function flash(row, change) {
    for (const name of Object.keys(change)) {
      const cellName = CELLS[name];
      if (!cellName) continue;
      const target = row.querySelector('[data-field="' + cellName + '"], [data-link="' + cellName + '"]');
      const cell = target && target.closest("td");
      if (!cell) continue;
      cell.classList.remove("changed");
      void cell.offsetWidth; // restart the animation when the same cell changes again
      cell.classList.add("changed");
    }
  }

  function renderKeepingPlace() {
    // Re-sorting moves rows: the reader keeps the scroll position and the focused control.
    const focused = document.activeElement;
    const scrollY = window.scrollY;
    render();
    if (focused && focused !== document.body && focused.isConnected && document.activeElement !== focused) {
      focused.focus({preventScroll: true});
    }
    window.scrollTo(window.scrollX, scrollY);
  }

  function followCursor(cursor) {
    if (cursor === lastCursor + 1 && !catchUpRunning) {
      lastCursor = cursor;
    } else if (cursor > lastCursor) {
      catchUp();
    }
  }

  function handle(message) {
    if (message.type === "update") {
      applyUpdate(message.tokens, message.removed);
      followCursor(message.cursor);
    } else if (message.type === "batch") {
      receiveTokens(message.tokens, message.removed);
      followCursor(message.cursor);
      currentRunId = message.run_id;
      runStatus.dataset.status = "running";
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
    const data = await response.json().catch(() => ({}));
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
        runStatus.dataset.status = "running";
        if (cancelButton) cancelButton.hidden = false;
        render();
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
      // Never an empty multipart body: Django refuses one with a 400 before the view runs.
      const body = new FormData();
      body.append("csrfmiddlewaretoken", csrfToken());
      try {
        await post(url, body);
      } catch (error) {
        formError.textContent = error.message;
      }
    });
  }

  runAction(cancelButton);
  runAction(resumeButton);

  function updateSortHeaders() {
    for (const button of document.querySelectorAll("button.sort")) {
      const th = button.closest("th");
      if (button.dataset.sort === sortKey) th.setAttribute("aria-sort", sortDescending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
  }

  for (const button of document.querySelectorAll("button.sort")) {
    button.addEventListener("click", function () {
      const key = button.dataset.sort;
      if (key === sortKey) sortDescending = !sortDescending;
      else {
        sortKey = key;
        sortDescending = !TEXT_KEYS.has(key);
      }
      localStorage.setItem("board.sortKey", sortKey);
      localStorage.setItem("board.sortDir", sortDescending ? "desc" : "asc");
      updateSortHeaders();
      render();
    });
  }

  quickFilter.value = localStorage.getItem("board.filter") || "";
  quickFilter.addEventListener("input", function () {
    localStorage.setItem("board.filter", quickFilter.value);
    render();
  });

  pauseButton.addEventListener("click", function () {
    paused = !paused;
    pauseButton.setAttribute("aria-pressed", String(paused));
    pauseButton.textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      const waiting = buffer;
      buffer = [];
      waitingMints.clear();
      bufferedNote.textContent = "";
      // Everything that waited, merged in order and drawn once (drawing per batch froze the page).
      for (const [changed, removed] of waiting) {
        for (const mint of removed || []) {
          tokens.delete(mint);
          elements.delete(mint);
        }
        for (const token of changed) tokens.set(token.mint, token);
      }
      trimToCap();
      render();
    }
  });

  loadOlder.addEventListener("click", async function () {
    loadOlder.disabled = true;
    try {
      const response = await fetch(config.api_tokens + "?limit=" + config.page_size + "&offset=" + olderOffset);
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      olderOffset += data.tokens.length;
      rowCap += data.tokens.length;
      applyChanges(data.tokens, []);
      loadOlder.hidden = data.next_offset === null;
    } catch (error) {
      formError.textContent = "Loading older tokens failed: " + error.message;
    } finally {
      loadOlder.disabled = false;
    }
  });

  rowsBody.addEventListener("click", async function (event) {
    const button = event.target.closest("button.copy");
    if (!button) return;
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = "copied";
    } catch (error) {
      button.textContent = "failed";
    }
    window.setTimeout(() => { button.textContent = "copy"; }, 1200);
  });

  window.setInterval(function () {
    for (const [mint, row] of elements) {
      const token = tokens.get(mint);
      if (token) setText(row, "age", age(token.created_timestamp));
    }
  }, 15000);

  for (const token of config.initial_tokens) tokens.set(token.mint, token);
  updateSortHeaders();
  render();
  if (config.latest_run) showRun(Object.assign({type: "run"}, config.latest_run));
  connect();
})();
