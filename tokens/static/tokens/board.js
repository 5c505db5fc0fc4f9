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
  const viewForm = $("view-form");
  const viewError = $("view-error");
  const csvLink = $("download-csv");
  const storedCount = $("stored-count");
  const runRetry = $("run-retry");
  const runDegraded = $("run-degraded");
  const runHistory = document.querySelector("#run-history tbody");
  const runRowTemplate = $("run-row-template");
  const pauseButton = $("pause-button");
  const bufferedNote = $("buffered");
  const rowCount = $("row-count");
  const loadOlder = $("load-older");
  const ACTIVE = new Set(["queued", "running"]);
  const TEXT_KEYS = new Set(["symbol", "sources"]);

  const tokens = new Map(); // mint -> token payload
  const deadImages = new Set(); // image links that failed to load
  const elements = new Map(); // mint -> <tr>
  // The reader's view (filters and sort), kept in the URL so it can be shared and survives a reload.
  // The server parsed it for the first render; matchesView mirrors tokens/store/board_query.py.
  let view = Object.assign({}, config.view);
  let rowCap = config.row_cap; // the same number of rows as the first render; "Load older" raises it
  let nextCursor = config.next_cursor;
  let sortKey = "created";
  let sortDescending = true;
  let stored = config.stored;
  // The board's count stops at count_cap (10,000): at it, "10000+".
  const storedText = () => String(stored) + (stored >= config.count_cap ? "+" : "");
  let storedCursor = config.cursor;
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
  // A share of supply: one decimal below 10 %, whole above (tokens/templatetags/board.py `share`).
  const share = (v) => (typeof v === "number" && isFinite(v) ? (v < 10 ? v.toFixed(1) : v.toFixed(0)) + "%" : "—");
  function signedPercent(v) {
    if (typeof v !== "number" || !isFinite(v)) return "—";
    return (v >= 0 ? "+" : "") + (Math.abs(v) < 100 ? v.toFixed(1) : v.toFixed(0)) + "%";
  }
  const sign = (v) => (v > 0 ? "up" : v < 0 ? "down" : "flat");
  const buysSells = (t) => (known(t.buys_5m) && known(t.sells_5m) ? t.buys_5m + "/" + t.sells_5m : "—");
  const devShare = (t) => share(t.dev_holding_pct) + (t.dev_sold_at ? " sold" : "");
  // The stream saw the coin's whole life (its figures cover every trade), tokens/templatetags `whole_life`.
  const wholeLife = (t) => Boolean(t.trades_since) && Date.parse(t.trades_since) <= t.created_timestamp;
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
    // A card (Pulse) shows some of a row's fields: the ones it lacks are skipped.
    const element = row.querySelector('[data-field="' + field + '"]');
    if (element) element.textContent = text;
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
    row.id = (row.classList.contains("card") ? "card-" : "token-") + token.mint;
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
    if (mintLink) {
      mintLink.href = "https://pump.fun/coin/" + encodeURIComponent(token.mint);
      mintLink.title = token.mint + " on pump.fun";
      mintLink.textContent = shortMint(token.mint);
      row.querySelector(".copy").dataset.copy = token.mint;
      row.querySelector('[data-link="solscan"]').href = "https://solscan.io/token/" + encodeURIComponent(token.mint);
    }
    setText(row, "age", age(token.created_timestamp));
    setText(row, "usd_market_cap", compactUsd(token.usd_market_cap));
    setText(row, "bonding_progress", stageLabel(token));
    row.classList.toggle("pending", token.pending === true);
    setText(row, "holders", countOrDash(token.holders));
    setText(row, "volume_5m_usd", compactUsd(token.volume_5m_usd));
    const volume = row.querySelector('[data-field="volume_5m_usd"]');
    if (token.trades_since && !wholeLife(token)) volume.title = "trades since " + utcTime(token.trades_since) + " UTC";
    else volume.removeAttribute("title");
    setText(row, "buys_sells_5m", buysSells(token));
    const change = row.querySelector('[data-field="price_change_5m"]');
    if (change) {
      change.textContent = signedPercent(token.price_change_5m);
      if (known(token.price_change_5m)) change.dataset.sign = sign(token.price_change_5m);
      else delete change.dataset.sign;
    }
    setText(row, "dev_holding_pct", devShare(token));
    const dev = row.querySelector('[data-field="dev_holding_pct"]');
    if (known(token.dev_holding_pct) && !wholeLife(token)) dev.title = "at launch: its create transaction's buys";
    else dev.removeAttribute("title");
    setText(row, "top10_pct", share(token.top10_pct));
    setText(row, "snipers_pct", share(token.snipers_pct));
    for (const name of ["twitter", "telegram", "website"]) {
      setLink(row.querySelector('[data-link="' + name + '"]'), httpUrl(token[name]));
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

  // Sort names (tokens/store/board_query.py SORTS) -> the token field they order by.
  const SORT_FIELDS = {created: "created_timestamp", volume_5m: "volume_5m_usd"};

  function sortValue(token, key) {
    if (key === "symbol") return (token.symbol || "").toLowerCase();
    const value = token[SORT_FIELDS[key] || key];
    return typeof value === "number" && isFinite(value) ? value : null;
  }

  function compare(a, b) {
    const x = sortValue(a, sortKey);
    const y = sortValue(b, sortKey);
    // Ties by mint in the sort's direction, as the server orders them (board_query.ordered).
    const order = x === y ? (a.mint < b.mint ? -1 : 1) : x === null ? null : y === null ? null : x < y ? -1 : 1;
    if (order === null) return x === null ? 1 : -1; // unknown values last, whichever the direction
    return sortDescending ? -order : order;
  }

  const AGE_UNITS = {m: 60000, h: 3600000, d: 86400000};
  const known = (v) => typeof v === "number" && isFinite(v);

  function matchesView(token) {
    const needle = (view.q || "").toLowerCase();
    if (needle && ![token.name, token.symbol, token.mint].some((v) => (v || "").toLowerCase().includes(needle))) return false;
    const cap = token.usd_market_cap;
    if (view.min_usd_market_cap && !(known(cap) && cap >= Number(view.min_usd_market_cap))) return false;
    if (view.max_usd_market_cap && !(known(cap) && cap <= Number(view.max_usd_market_cap))) return false;
    if (view.min_holders && !(known(token.holders) && token.holders >= Number(view.min_holders))) return false;
    const progress = token.bonding_progress;
    if (view.min_progress && !(token.complete || (known(progress) && progress >= Number(view.min_progress)))) return false;
    const about = known(progress) && progress >= config.about_to_graduate;
    if (view.stage === "graduated" && !token.complete) return false;
    if (view.stage === "graduating" && (token.complete || !about)) return false;
    if (view.stage === "new" && (token.complete || about)) return false;
    if (view.socials && !(token.twitter || token.telegram || token.website)) return false;
    if (view.max_age) {
      const span = Number(view.max_age.slice(0, -1)) * AGE_UNITS[view.max_age.slice(-1)];
      if (token.created_timestamp < Date.now() - span) return false;
    }
    for (const [name, [field, lookup]] of Object.entries(config.trade_bounds)) {
      if (!view[name]) continue;
      const value = token[field];
      const bound = Number(view[name]);
      if (!known(value) || (lookup === "gte" ? value < bound : value > bound)) return false; // unknown never passes
    }
    const devSold = (view.dev_sold || "").toLowerCase();
    if (["1", "true", "yes"].includes(devSold) && !token.dev_sold_at) return false;
    if (["0", "false", "no"].includes(devSold) && token.dev_sold_at) return false;
    return true;
  }

  function trimToCap() {
    // Keep the first rowCap rows of the view's order: the rows a reload would render.
    if (tokens.size <= rowCap) return;
    const inOrder = [...tokens.values()].sort(compare);
    for (const token of inOrder.slice(rowCap)) {
      tokens.delete(token.mint);
      elements.delete(token.mint);
    }
  }

  function render() {
    const shown = [...tokens.values()].sort(compare);
    const rows = shown.map(rowFor);
    rowsBody.replaceChildren(...rows);
    emptyState.hidden = tokens.size > 0;
    pendingNote.hidden = !shown.some((token) => token.pending === true);
    loadingState.hidden = !(tokens.size === 0 && runStatus.dataset.status === "running");
    rowCount.textContent = rows.length + " shown";
    storedCount.textContent = storedText();
    window.boardRowCount = rows.length;
  }

  function showStored(count, cursor) {
    // Messages from several processes can arrive out of order: the newest cursor's count wins.
    if (typeof count !== "number" || cursor < storedCursor) return;
    stored = count;
    storedCursor = cursor;
    storedCount.textContent = storedText();
  }

  function applyChanges(changed, removed) {
    for (const mint of removed || []) {
      tokens.delete(mint);
      elements.delete(mint);
    }
    for (const token of changed) {
      if (matchesView(token)) tokens.set(token.mint, token);
      else forget(token.mint);
    }
    trimToCap();
    render();
  }

  function forget(mint) {
    tokens.delete(mint);
    elements.delete(mint);
  }

  function receiveTokens(changed, removed) {
    if (paused) {
      if (!changed.length && !(removed || []).length) return;
      buffer.push([changed, removed]);
      for (const mint of removed || []) waitingMints.delete(mint);
      // Rows not on the board yet: a token delivered again (a re-run, a catch-up) is not new.
      for (const token of changed) if (!tokens.has(token.mint) && matchesView(token)) waitingMints.add(token.mint);
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
        // Answers come in pages of rows; a page can end inside one cursor's rows (a filter change
        // gives many tokens one cursor), and the next asks from that row on.
        let more = true;
        let after = lastCursor;
        let afterMint = "";
        while (more) {
          const query = "?after=" + after + (afterMint ? "&after_mint=" + encodeURIComponent(afterMint) : "");
          const response = await fetch(config.api_changes + query, {headers: {"Accept": "application/json"}});
          if (!response.ok) throw new Error("catch-up failed (HTTP " + response.status + ")");
          const data = await response.json();
          receiveTokens(data.tokens, data.removed);
          lastCursor = data.cursor; // lower than before only when the board was reset
          more = data.more;
          if (more) {
            after = data.next_after;
            afterMint = data.next_after_mint;
          }
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
    } else if (!progressBar.hasAttribute("value")) {
      progressBar.value = 0; // a run that ended without an estimate: the bar stops moving
    }
    progressBar.dataset.percent = progressBar.hasAttribute("value") ? String(progressBar.value) : "";
  }

  function showRun(message) {
    showRunInHistory(message);
    if (currentRunId !== null && message.run_id < currentRunId && ACTIVE.has(runStatus.dataset.status)) return;
    currentRunId = message.run_id;
    showNote(runRetry, message.retrying || "");
    showNote(runDegraded, message.degraded ? "Degraded: " + message.degraded : "");
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
    if (!panelOpened) foldPanel(!ACTIVE.has(message.status) || following);
    render();
  }

  // With no load running the run panel is one line (the first screen holds tokens); More opens it.
  const runPanel = $("run-panel");
  const runMore = $("run-more");
  let panelOpened = false;

  function foldPanel(folded) {
    runPanel.classList.toggle("folded", folded);
    runMore.setAttribute("aria-expanded", String(!folded));
    runMore.textContent = folded ? "More" : "Less";
  }

  runMore.addEventListener("click", function () {
    const open = runPanel.classList.contains("folded");
    panelOpened = open;
    foldPanel(!open);
  });

  // The cells a detail update can change, by the token field that changed.
  const CELLS = {usd_market_cap: "usd_market_cap", holders: "holders", bonding_progress: "bonding_progress",
    complete: "bonding_progress", pool_status: "bonding_progress", image_uri: "image_uri", twitter: "twitter", telegram: "telegram", website: "website",
    volume_5m_usd: "volume_5m_usd", buys_5m: "buys_sells_5m", sells_5m: "buys_sells_5m", price_change_5m: "price_change_5m",
    dev_holding_pct: "dev_holding_pct", top10_pct: "top10_pct", snipers_pct: "snipers_pct"};
  const SORTED_BY = {
    usd_market_cap: "usd_market_cap", holders: "holders", bonding_progress: "bonding_progress",
    volume_5m_usd: "volume_5m", buys_5m: "buys_5m", sells_5m: "sells_5m", price_change_5m: "price_change_5m",
    dev_holding_pct: "dev_holding_pct", top10_pct: "top10_pct", snipers_pct: "snipers_pct",
  };

  function applyUpdate(rows, removed) {
    // Each row comes with the names of the fields that changed: a row already here is updated in
    // place. A whole row (the details stage's) that now matches the view (its market cap or holder
    // count arrived) joins it, as a batch's rows do (held back while paused, like them); the trade
    // stream's rows carry the changed fields only, and one of a token the page does not hold may
    // move it into a sorted or filtered view: the page asks for its view again (every 2 s at most).
    let resort = false;
    const joined = [];
    const gone = [...(removed || [])];
    for (const mint of gone) {
      resort = resort || tokens.has(mint);
      forget(mint);
    }
    for (const row of rows) {
      const changed = row.changed || [];
      const change = Object.assign({}, row);
      delete change.changed;
      const token = tokens.get(change.mint);
      if (!token && !("created_timestamp" in change)) {
        if (changed.length && !viewIsNewest()) refreshViewSoon();
        continue;
      }
      if (!token) {
        if (matchesView(change)) joined.push(change);
        else gone.push(change.mint); // a held row of it must not come back on Resume
        continue;
      }
      Object.assign(token, change);
      if (change.mint === drawerMint) drawerTraded(token);
      if (!matchesView(token)) {
        forget(change.mint); // a detail took it out of this reader's view
        gone.push(change.mint);
        resort = true;
        continue;
      }
      const element = elements.get(change.mint);
      if (element) {
        fillRow(element, token);
        flash(element, changed);
      }
      if (changed.some((name) => SORTED_BY[name] === sortKey)) resort = true;
    }
    window.boardUpdates = (window.boardUpdates || 0) + 1;
    if (paused) {
      // Rows held back are replayed in order on Resume: what left meanwhile leaves after them.
      receiveTokens(joined, gone);
      if (resort) renderKeepingPlace();
    } else if (joined.length) {
      applyChanges(joined, []);
    } else if (resort) {
      renderKeepingPlace();
    }
  }

  function flash(row, changed) {
    for (const name of changed) {
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

  // The run history, kept live from the same run messages as the panel above it.
  const RUN_CELLS = ["run_id", "source", "upstream", "window", "batch_size", "status", "processed", "accepted",
    "rejected", "invalid", "started_at", "duration"];

  function duration(seconds) {
    if (typeof seconds !== "number") return "—";
    if (seconds >= 3600) return Math.floor(seconds / 3600) + "h " + Math.floor((seconds % 3600) / 60) + "m";
    if (seconds >= 60) return Math.floor(seconds / 60) + "m " + (seconds % 60) + "s";
    return seconds + "s";
  }

  function utcTime(iso) {
    return iso ? iso.slice(0, 19).replace("T", " ") : "—";
  }

  function showRunInHistory(run) {
    let row = $("run-row-" + run.run_id);
    if (!row) {
      row = runRowTemplate.content.firstElementChild.cloneNode(true);
      row.id = "run-row-" + run.run_id;
      row.dataset.run = String(run.run_id);
      const empty = $("no-runs");
      if (empty) empty.remove();
      runHistory.prepend(row);
    }
    const values = {
      run_id: String(run.run_id),
      source: run.source_label + (run.follow ? " + follow" : ""),
      upstream: run.upstream_label,
      window: run.window || "—",
      batch_size: String(run.batch_size),
      status: run.status,
      processed: String(run.progress.processed),
      accepted: String(run.progress.accepted),
      rejected: String(run.progress.rejected),
      invalid: String(run.progress.invalid),
      started_at: utcTime(run.started_at),
      duration: duration(run.duration_seconds),
    };
    for (const name of RUN_CELLS) row.querySelector('[data-field="' + name + '"]').textContent = values[name];
  }

  function showRetry(message) {
    if (message.run_id !== currentRunId) return;
    showNote(runRetry, message.text);
  }

  function showNote(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function wholeRow(row) {
    // A batch leaves a row's null fields out (every batch goes to every page): put them back.
    for (const name of config.board_fields) if (!(name in row)) row[name] = null;
    return row;
  }

  function handle(message) {
    if (message.type === "bundle") {
      // Messages that waited for the same delivery round, in order (tokens/board/hub.py).
      for (const each of message.messages) handle(each);
    } else if (message.type === "update") {
      applyUpdate(message.tokens, message.removed);
      pulseReceive(message.tokens, message.removed);
      showStored(message.stored, message.cursor);
      followCursor(message.cursor);
    } else if (message.type === "rejudged") {
      showStored(message.stored, message.cursor);
      catchUp(); // the saved filters moved stored tokens on or off the board
    } else if (message.type === "retry") {
      showRetry(message);
    } else if (message.type === "batch") {
      const rows = message.tokens.map(wholeRow);
      receiveTokens(rows, message.removed);
      pulseReceive(rows, message.removed);
      showStored(message.stored, message.cursor);
      followCursor(message.cursor);
      // The panel follows one run: batches of another (the always-on feed beside a load) only add rows.
      if (message.run_id === currentRunId || !ACTIVE.has(runStatus.dataset.status)) {
        if (message.run_id !== currentRunId) currentRunId = message.run_id;
        runRetry.hidden = true;
        runStatus.dataset.status = "running";
        showProgress("running", message.progress);
      }
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

  // ---- The reader's view: filters, sort, presets, the URL and the CSV link ----
  const VIEW_NAMES = ["q", "stage", "max_age", "min_usd_market_cap", "max_usd_market_cap", "min_holders",
    "min_progress", "socials", ...Object.keys(config.trade_bounds), "dev_sold", "sort"];
  const NUMBER = /^[0-9]{1,15}(\.[0-9]{1,6})?$/;
  const WHOLE = /^[0-9]{1,12}$/;

  function sortFromView() {
    const sort = view.sort || "-created";
    sortKey = sort.replace(/^-/, "");
    sortDescending = sort.startsWith("-");
  }

  function viewQuery() {
    const params = new URLSearchParams();
    for (const name of VIEW_NAMES) if (view[name] && !(name === "sort" && view[name] === "-created")) params.set(name, view[name]);
    return params;
  }

  function pageQuery() {
    // The view, and Pulse's own state (the API takes the view only).
    const params = viewQuery();
    if (layout === "pulse") params.set("layout", "pulse");
    for (const key of LANE_KEYS) {
      for (const [name, value] of Object.entries(laneFilters(lanes[key]))) params.set(key + "." + name, value);
    }
    return params;
  }

  function readForm() {
    const data = new FormData(viewForm);
    const next = {};
    for (const name of VIEW_NAMES) {
      const value = (data.get(name) || "").toString().trim();
      if (value) next[name] = value;
    }
    next.sort = view.sort || "-created";
    const numbers = ["min_usd_market_cap", "max_usd_market_cap", "min_progress", ...Object.keys(config.trade_bounds)];
    for (const name of numbers.filter((n) => n !== "min_buys_5m")) {
      if (next[name] && !NUMBER.test(next[name])) return [null, name.replace(/_/g, " ") + " must be a number like 25000 (digits 0-9)"];
      if (name.endsWith("_pct") && next[name] && Number(next[name]) > 100) return [null, name.replace(/_/g, " ") + " is a percentage from 0 to 100"];
    }
    for (const name of ["min_holders", "min_buys_5m"]) {
      if (next[name] && !WHOLE.test(next[name])) return [null, name.replace(/_/g, " ") + " must be a whole number (digits 0-9)"];
    }
    if (next.min_progress && Number(next.min_progress) > 100) return [null, "bonding progress is a percentage from 0 to 100"];
    if (next.min_usd_market_cap && next.max_usd_market_cap && Number(next.min_usd_market_cap) > Number(next.max_usd_market_cap)) {
      return [null, "the minimum market cap is above the maximum"];
    }
    return [next, ""];
  }

  function writeForm() {
    for (const element of viewForm.elements) {
      if (!element.name || !VIEW_NAMES.includes(element.name)) continue;
      if (element.type === "radio") element.checked = (view[element.name] || "") === element.value;
      else if (element.type === "checkbox") element.checked = Boolean(view[element.name]);
      else element.value = view[element.name] || (element.name === "sort" ? "-created" : "");
    }
  }

  function showView() {
    const query = viewQuery().toString();
    const page = pageQuery().toString();
    history.replaceState(null, "", window.location.pathname + (page ? "?" + page : ""));
    csvLink.href = config.api_tokens + "?format=csv" + (query ? "&" + query : "");
    updateSortHeaders();
    presetDelete.hidden = !presetSelect.value;
  }

  let viewRequest = 0;
  let refreshTimer = null;

  function viewIsNewest() {
    // The newest launches, unfiltered: batches bring every row such a view can gain.
    return sortKey === "created" && sortDescending && VIEW_NAMES.every((name) => name === "sort" || !view[name]);
  }

  function refreshViewSoon() {
    if (refreshTimer !== null || paused) return;
    refreshTimer = window.setTimeout(async function () {
      refreshTimer = null;
      const asked = viewRequest;
      try {
        const data = await fetchTokens({limit: String(rowCap)});
        if (asked !== viewRequest || paused) return; // the view changed meanwhile: its own load answers
        applyChanges(data.tokens, []);
        window.boardViewRefreshed = (window.boardViewRefreshed || 0) + 1;
      } catch (error) {
        // The next trade asks again.
      }
    }, 2000);
  }

  async function changeView(next) {
    view = next;
    sortFromView();
    showView();
    // What the board holds and still matches stays; the server's first page fills the rest.
    for (const [mint, token] of tokens) if (!matchesView(token)) forget(mint);
    render();
    const asked = ++viewRequest;
    try {
      const data = await fetchTokens({limit: String(rowCap)});
      if (asked !== viewRequest) return; // the reader changed the view again meanwhile
      nextCursor = data.next_cursor;
      loadOlder.hidden = nextCursor === null;
      applyChanges(data.tokens, []);
      viewError.hidden = true;
      window.boardViewLoaded = (window.boardViewLoaded || 0) + 1;
    } catch (error) {
      viewError.textContent = error.message;
      viewError.hidden = false;
    }
  }

  async function fetchTokens(extra) {
    const params = viewQuery();
    for (const [name, value] of Object.entries(extra)) params.set(name, value);
    const response = await fetch(config.api_tokens + "?" + params.toString(), {headers: {"Accept": "application/json"}});
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "loading the view failed (HTTP " + response.status + ")");
    return data;
  }

  let formTimer = null;

  function formChanged() {
    window.clearTimeout(formTimer);
    formTimer = window.setTimeout(function () {
      const [next, problem] = readForm();
      viewError.textContent = problem;
      viewError.hidden = !problem;
      if (next) changeView(next);
    }, 250);
  }

  viewForm.addEventListener("input", formChanged);
  viewForm.addEventListener("change", formChanged);
  viewForm.addEventListener("submit", function (event) {
    event.preventDefault();
    formChanged();
  });
  $("reset-view").addEventListener("click", function (event) {
    event.preventDefault();
    presetSelect.value = "";
    view = {};
    writeForm();
    changeView({});
  });

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
      const descending = key === sortKey ? !sortDescending : !TEXT_KEYS.has(key);
      changeView(Object.assign({}, view, {sort: (descending ? "-" : "") + key}));
    });
  }

  // Presets: named views saved in this browser.
  const presetSelect = $("preset-select");
  const presetName = $("preset-name");
  const presetDelete = $("preset-delete");

  function presets() {
    try {
      const saved = JSON.parse(localStorage.getItem("board.presets") || "{}");
      return saved && typeof saved === "object" && !Array.isArray(saved) ? saved : {};
    } catch (error) {
      return {};
    }
  }

  function listPresets(selected) {
    const saved = presets();
    presetSelect.replaceChildren(new Option("saved views…", ""));
    for (const name of Object.keys(saved).sort()) presetSelect.appendChild(new Option(name, name));
    presetSelect.value = selected && selected in saved ? selected : "";
    presetDelete.hidden = !presetSelect.value;
  }

  $("preset-save").addEventListener("click", function () {
    const name = presetName.value.trim();
    if (!name) {
      presetName.focus();
      return;
    }
    const saved = presets();
    saved[name] = viewQuery().toString();
    localStorage.setItem("board.presets", JSON.stringify(saved));
    presetName.value = "";
    listPresets(name);
  });

  presetSelect.addEventListener("change", function () {
    const saved = presets();
    if (!(presetSelect.value in saved)) return;
    const next = {};
    for (const [name, value] of new URLSearchParams(saved[presetSelect.value])) if (VIEW_NAMES.includes(name)) next[name] = value;
    view = next;
    writeForm();
    changeView(next);
  });

  presetDelete.addEventListener("click", function () {
    const saved = presets();
    delete saved[presetSelect.value];
    localStorage.setItem("board.presets", JSON.stringify(saved));
    listPresets("");
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
      window.boardWaiting = 0;
      // Everything that waited, merged in order and drawn once (drawing per batch froze the page).
      for (const [changed, removed] of waiting) {
        for (const mint of removed || []) forget(mint);
        for (const token of changed) if (matchesView(token)) tokens.set(token.mint, token);
      }
      trimToCap();
      render();
    }
  });

  loadOlder.addEventListener("click", async function () {
    if (nextCursor === null) return;
    loadOlder.disabled = true;
    try {
      const data = await fetchTokens({limit: String(config.row_cap), cursor: nextCursor});
      nextCursor = data.next_cursor;
      rowCap += data.tokens.length;
      applyChanges(data.tokens, []);
      loadOlder.hidden = nextCursor === null;
    } catch (error) {
      viewError.textContent = "Loading older tokens failed: " + error.message;
      viewError.hidden = false;
    } finally {
      loadOlder.disabled = false;
    }
  });

  // ---- Pulse: three live lanes (New, About to graduate, Graduated), each its own view -----------
  // A lane is a stage, an order and its own filters (in the URL as <lane>.<filter>); its cards are
  // the API's answer for that view, kept live by the same messages as the table.
  const pulse = $("pulse");
  const tableView = $("table-view");
  const cardTemplate = $("token-card-template");
  const LANE_KEYS = ["new", "graduating", "graduated"];
  const lanes = {};
  for (const element of pulse.querySelectorAll(".lane")) {
    lanes[element.dataset.lane] = {element, sort: element.dataset.sort, tokens: new Map(), cards: new Map(),
      list: element.querySelector(".lane-cards"), count: element.querySelector(".lane-count"),
      form: element.querySelector(".lane-filters"), filters: {}};
  }
  let layout = config.layout;
  let laneReloadTimer = null;

  function stageOf(token) {
    if (token.complete) return "graduated";
    return known(token.bonding_progress) && token.bonding_progress >= config.about_to_graduate ? "graduating" : "new";
  }

  function laneFilters(lane) {
    const filters = {};
    for (const name of config.lane_filters) {
      const value = (lane.form.elements[name].value || "").trim();
      if (value && NUMBER.test(value)) filters[name] = value;
    }
    return filters;
  }

  function inLane(key, token) {
    if (stageOf(token) !== key) return false;
    for (const [name, value] of Object.entries(lanes[key].filters)) {
      const [field, lookup] = config.trade_bounds[name];
      const figure = token[field];
      if (!known(figure) || (lookup === "gte" ? figure < Number(value) : figure > Number(value))) return false;
    }
    return true;
  }

  function cardFor(lane, token) {
    let card = lane.cards.get(token.mint);
    if (!card) {
      card = cardTemplate.content.firstElementChild.cloneNode(true);
      const image = card.querySelector('[data-field="image_uri"]');
      image.addEventListener("error", () => {
        deadImages.add(image.src);
        image.hidden = true;
      });
      lane.cards.set(token.mint, card);
    }
    fillRow(card, token);
    return card;
  }

  function renderLane(key) {
    const lane = lanes[key];
    const [field, descending] = [lane.sort.replace(/^-/, ""), lane.sort.startsWith("-")];
    const value = (t) => (field === "created" ? t.created_timestamp : t[field]);
    const shown = [...lane.tokens.values()].sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      if (x === y || (!known(x) && !known(y))) return (a.mint < b.mint ? -1 : 1) * (descending ? -1 : 1);
      if (!known(x)) return 1;
      if (!known(y)) return -1;
      return (x < y ? -1 : 1) * (descending ? -1 : 1);
    }).slice(0, config.lane_cards);
    const keep = new Set(shown.map((t) => t.mint));
    for (const mint of [...lane.tokens.keys()]) if (!keep.has(mint)) lane.tokens.delete(mint);
    for (const mint of [...lane.cards.keys()]) if (!keep.has(mint)) lane.cards.delete(mint); // no card kept for a token gone
    lane.list.replaceChildren(...shown.map((token) => cardFor(lane, token)));
    lane.count.textContent = String(shown.length);
  }

  async function loadLane(key) {
    const lane = lanes[key];
    lane.filters = laneFilters(lane);
    const params = new URLSearchParams(Object.assign({stage: key, sort: lane.sort, limit: String(config.lane_cards)}, lane.filters));
    const response = await fetch(config.api_tokens + "?" + params.toString(), {headers: {"Accept": "application/json"}});
    if (!response.ok) return;
    const data = await response.json();
    lane.tokens = new Map(data.tokens.map((token) => [token.mint, token]));
    renderLane(key);
    window.boardLanesLoaded = (window.boardLanesLoaded || 0) + 1;
  }

  function loadLanes() {
    return Promise.all(LANE_KEYS.map(loadLane));
  }

  function laneToken(mint) {
    for (const key of LANE_KEYS) if (lanes[key].tokens.has(mint)) return lanes[key].tokens.get(mint);
    return null;
  }

  function pulseReceive(rows, removed) {
    // A batch's or an update's rows: each token to the lane its stage and figures put it in.
    if (layout !== "pulse") return;
    const touched = new Set();
    for (const mint of removed || []) {
      for (const key of LANE_KEYS) if (lanes[key].tokens.delete(mint)) touched.add(key);
    }
    let unknown = false;
    for (const row of rows) {
      const held = laneToken(row.mint);
      if (!held && !("created_timestamp" in row)) {
        unknown = true; // a partial update of a token no lane shows: it may enter one
        continue;
      }
      const token = Object.assign({}, held || {}, row);
      delete token.changed;
      if (token.mint === drawerMint && !tokens.has(token.mint)) drawerTraded(token); // opened from a card
      for (const key of LANE_KEYS) {
        const lane = lanes[key];
        if (inLane(key, token)) {
          lane.tokens.set(token.mint, token);
          touched.add(key);
        } else if (lane.tokens.delete(token.mint)) {
          touched.add(key);
        }
      }
    }
    for (const key of touched) renderLane(key);
    if (unknown && laneReloadTimer === null) {
      laneReloadTimer = window.setTimeout(() => {
        laneReloadTimer = null;
        if (layout === "pulse") loadLanes();
      }, 3000);
    }
  }

  function showLayout(next) {
    layout = next;
    pulse.hidden = layout !== "pulse";
    tableView.hidden = layout === "pulse";
    for (const button of document.querySelectorAll("[data-layout]")) {
      button.setAttribute("aria-pressed", String(button.dataset.layout === layout));
    }
    showView();
    if (layout === "pulse") loadLanes();
  }

  for (const button of document.querySelectorAll("[data-layout]")) {
    button.addEventListener("click", () => showLayout(button.dataset.layout));
  }
  for (const key of LANE_KEYS) {
    const lane = lanes[key];
    lane.filters = laneFilters(lane);
    for (const card of lane.list.children) lane.cards.set(card.dataset.mint, card);
    lane.form.addEventListener("submit", (event) => event.preventDefault());
    let timer = null;
    lane.form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        showView();
        loadLane(key);
      }, 250);
    });
    lane.list.addEventListener("click", function (event) {
      if (event.target.closest("a")) return;
      const card = event.target.closest(".card");
      if (card) openDrawer(card.dataset.mint);
    });
    lane.list.addEventListener("keydown", function (event) {
      const card = event.target.closest(".card");
      if (card && event.key === "Enter") openDrawer(card.dataset.mint);
    });
  }

  // ---- The token drawer: a click on a row (not on its links) or Enter on it ----
  const drawer = $("token-drawer");
  let drawerMint = null;

  function setDrawerLink(id, url, text) {
    const anchor = $(id);
    setLink(anchor, url);
    if (text !== undefined) anchor.textContent = text;
  }

  function fillDrawer(token) {
    $("drawer-title").textContent = token.symbol || "—";
    $("drawer-name").textContent = token.name || "";
    const image = $("drawer-image");
    const imageUrl = httpUrl(token.image_uri);
    if (imageUrl && !deadImages.has(imageUrl)) {
      image.src = imageUrl;
      image.hidden = false;
    } else {
      image.removeAttribute("src");
      image.hidden = true;
    }
    $("drawer-description").textContent = token.description || "";
    $("drawer-mint").textContent = token.mint;
    $("drawer-copy-mint").dataset.copy = token.mint;
    const creator = token.creator || "";
    setDrawerLink("drawer-creator", creator ? "https://solscan.io/account/" + encodeURIComponent(creator) : null, creator || "—");
    $("drawer-creator").hidden = false;
    $("drawer-copy-creator").dataset.copy = creator;
    $("drawer-copy-creator").hidden = !creator;
    $("drawer-created").textContent = new Date(token.created_timestamp).toISOString().slice(0, 19).replace("T", " ") +
      " UTC (" + age(token.created_timestamp) + " ago)";
    $("drawer-cap").textContent = compactUsd(token.usd_market_cap);
    $("drawer-bonding").textContent = token.complete ? stageLabel(token) : percent(token.bonding_progress) + " of the curve sold";
    fillPoolFacts(token);
    $("drawer-holders").textContent = countOrDash(token.holders);
    $("drawer-replies").textContent = countOrDash(token.reply_count);
    $("drawer-updated").textContent = token.details_updated_at ? utcTime(token.details_updated_at) + " UTC" : "—";
    fillTradeFacts(token);
    setDrawerLink("drawer-pumpfun", "https://pump.fun/coin/" + encodeURIComponent(token.mint));
    setDrawerLink("drawer-solscan", "https://solscan.io/token/" + encodeURIComponent(token.mint));
    setDrawerLink("drawer-tx", token.signature ? "https://solscan.io/tx/" + encodeURIComponent(token.signature) : null);
    for (const name of ["twitter", "telegram", "website"]) setDrawerLink("drawer-" + name, httpUrl(token[name]));
  }

  // A graduated coin's stage, by what its pool says (the same words as the template's `stage`).
  const GRADUATED_LABELS = {migrating: "migrating", unreadable: "pool unreadable"};

  function stageLabel(token) {
    if (!token.complete) return percent(token.bonding_progress);
    return GRADUATED_LABELS[token.pool_status] || "graduated";
  }

  function fillPoolFacts(token) {
    const pool = token.pool || "";
    setDrawerLink("drawer-pool", pool ? "https://solscan.io/account/" + encodeURIComponent(pool) : null, pool ? shortMint(pool) : "");
    $("drawer-pool").hidden = !pool;
    let note = "";
    if (token.complete) {
      if (token.pool_status === "migrating") note = "migrating: its pool is not there yet";
      else if (token.pool_status === "unreadable") note = "its pool could not be read: price unknown";
      else if (token.pool_status === "priced") note = "priced from its PumpSwap pool";
      else note = "its pool is not read yet";
      if (token.graduated_at) note += " · graduated " + utcTime(token.graduated_at) + " UTC";
      if (token.migrated_at) note += " · migrated " + utcTime(token.migrated_at) + " UTC";
    } else {
      note = "on its bonding curve";
    }
    $("drawer-pool-note").textContent = note;
    $("drawer-liquidity").textContent = known(token.liquidity_usd) || known(token.liquidity_sol)
      ? compactUsd(token.liquidity_usd) + (known(token.liquidity_sol) ? " (" + Number(token.liquidity_sol).toFixed(2) + " SOL)" : "") +
        (token.complete ? " in the pool, both sides" : " in the curve")
      : "—";
  }

  function fillTradeFacts(token) {
    $("drawer-volume").textContent = "5m " + compactUsd(token.volume_5m_usd) + " · 1h " + compactUsd(token.volume_1h_usd) +
      " · 24h " + compactUsd(token.volume_24h_usd);
    $("drawer-activity").textContent = known(token.buys_5m)
      ? token.buys_5m + " buys, " + token.sells_5m + " sells, " + token.traders_5m + " traders, net " + compactUsd(token.net_flow_5m_usd)
      : "—";
    $("drawer-change").textContent = "5m " + signedPercent(token.price_change_5m) + " · 1h " + signedPercent(token.price_change_1h);
    $("drawer-ath").textContent = compactUsd(token.ath_usd_market_cap);
    const atLaunch = wholeLife(token) ? "" : " at launch (its create transaction)";
    let dev = known(token.dev_holding_pct) ? share(token.dev_holding_pct) + " of supply" + atLaunch : "unknown";
    if (token.dev_sold_at) dev += "; sold " + share(token.dev_sold_pct) + " from " + utcTime(token.dev_sold_at) + " UTC";
    $("drawer-dev").textContent = dev;
    $("drawer-concentration").textContent = "top 10 " + share(token.top10_pct) + " · snipers " + share(token.snipers_pct) +
      " · bundled " + share(token.bundled_pct) + (known(token.bundled_pct) ? atLaunch : "");
    let coverage = "no trade seen yet";
    if (token.trades_since) {
      const whole = Date.parse(token.trades_since) <= token.created_timestamp;
      coverage = whole ? "every trade since the launch" : "trades since " + utcTime(token.trades_since) + " UTC (developer, snipers, bundled and top 10 need the launch)";
    }
    $("drawer-coverage").textContent = coverage;
  }

  // The drawer's chart: 1-minute candles from the API, drawn by TradingView's lightweight-charts
  // (served from this app's static files; absent, the chart says so and the trades still show).
  let chart = null;
  let candleSeries = null;

  function drawCandles(answer) {
    const note = $("drawer-chart-note");
    const box = $("drawer-chart");
    const charts = window.LightweightCharts;
    if (!charts) {
      note.textContent = "The chart library did not load.";
      return;
    }
    if (!chart) {
      chart = charts.createChart(box, {height: 220, layout: {background: {color: "transparent"}, textColor: "#9aa4b2"},
        grid: {vertLines: {visible: false}, horzLines: {color: "rgba(128,128,128,0.15)"}},
        timeScale: {timeVisible: true, secondsVisible: false}, autoSize: true});
      candleSeries = chart.addSeries(charts.CandlestickSeries, {priceFormat: {type: "price", precision: 10, minMove: 1e-10}});
    }
    const candles = answer.candles.map((c) => ({time: c.time, open: c.open, high: c.high, low: c.low, close: c.close}));
    candleSeries.setData(candles);
    chart.timeScale().fitContent();
    note.textContent = candles.length ? "Price in " + answer.quote + " per token, 1-minute candles" : "No trade seen yet: no candles.";
    window.boardChartCandles = candles.length;
  }

  function fillTrades(answer) {
    $("drawer-quote-head").textContent = answer.quote;
    const body = $("drawer-trade-rows");
    body.replaceChildren();
    for (const trade of answer.trades) {
      const row = document.createElement("tr");
      const cells = [utcTime(trade.time), trade.side, trade.quote_amount.toFixed(4), compactUsd(trade.usd_value)];
      for (const text of cells) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
      }
      row.children[1].className = "side-" + (trade.side === "buy" ? "buy" : "sell");
      row.children[2].className = row.children[3].className = "col-num";
      const trader = document.createElement("td");
      const link = document.createElement("a");
      link.textContent = shortMint(trade.trader);
      link.title = trade.trader;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.href = "https://solscan.io/account/" + encodeURIComponent(trade.trader);
      trader.appendChild(link);
      row.appendChild(trader);
      body.appendChild(row);
    }
    window.boardDrawerTrades = answer.trades.length;
  }

  let tradingReloadTimer = null;

  function drawerTraded(token) {
    // The open drawer follows its token: figures at once, chart and trades at most every 2 s.
    fillTradeFacts(token);
    if (tradingReloadTimer === null) {
      tradingReloadTimer = setTimeout(() => {
        tradingReloadTimer = null;
        if (drawerMint) loadTrading(drawerMint);
      }, 2000);
    }
  }

  async function loadTrading(mint) {
    const base = config.api_tokens + encodeURIComponent(mint);
    try {
      const [trades, candles] = await Promise.all([
        fetch(base + "/trades/?limit=30", {headers: {"Accept": "application/json"}}),
        fetch(base + "/candles/?interval=1m", {headers: {"Accept": "application/json"}}),
      ]);
      if (!trades.ok || !candles.ok) throw new Error("HTTP " + (trades.ok ? candles.status : trades.status));
      const [tradeAnswer, candleAnswer] = [await trades.json(), await candles.json()];
      if (drawerMint !== mint) return;
      fillTrades(tradeAnswer);
      drawCandles(candleAnswer);
    } catch (error) {
      $("drawer-chart-note").textContent = "Could not load the trades: " + error.message;
    }
  }

  async function openDrawer(mint) {
    const token = tokens.get(mint) || laneToken(mint);
    if (!token) return;
    drawerMint = mint;
    $("drawer-error").hidden = true;
    fillDrawer(token); // what the row knows, at once; the whole token follows
    if (!drawer.open) drawer.showModal();
    $("drawer-trade-rows").replaceChildren();
    loadTrading(mint);
    try {
      const response = await fetch(config.api_tokens + encodeURIComponent(mint) + "/", {headers: {"Accept": "application/json"}});
      if (!response.ok) throw new Error("HTTP " + response.status);
      const whole = await response.json();
      if (drawerMint === mint) fillDrawer(Object.assign({}, whole, tokens.get(mint) || laneToken(mint) || {}, {description: whole.description, creator: whole.creator, signature: whole.signature, details_updated_at: whole.details_updated_at}));
      window.boardDrawerLoaded = mint;
    } catch (error) {
      $("drawer-error").textContent = "Could not load the whole token: " + error.message;
      $("drawer-error").hidden = false;
    }
  }

  $("drawer-close").addEventListener("click", () => drawer.close());
  drawer.addEventListener("click", function (event) {
    if (event.target === drawer) drawer.close(); // a click on the backdrop
  });
  drawer.addEventListener("close", function () {
    const row = drawerMint && elements.get(drawerMint);
    drawerMint = null;
    if (row && row.isConnected) row.focus({preventScroll: true});
  });

  rowsBody.addEventListener("click", function (event) {
    if (event.target.closest("a, button")) return;
    const row = event.target.closest("tr.token-row");
    if (row) openDrawer(row.dataset.mint);
  });
  rowsBody.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") return;
    if (event.target.closest("a, button")) return;
    const row = event.target.closest("tr.token-row");
    if (!row) return;
    event.preventDefault();
    openDrawer(row.dataset.mint);
  });

  async function copyFrom(event) {
    const button = event.target.closest("button.copy");
    if (!button) return;
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = "copied";
    } catch (error) {
      button.textContent = "failed";
    }
    window.setTimeout(() => { button.textContent = "copy"; }, 1200);
  }

  rowsBody.addEventListener("click", copyFrom);
  drawer.addEventListener("click", copyFrom);

  window.setInterval(function () {
    let aged = false;
    for (const [mint, row] of elements) {
      const token = tokens.get(mint);
      if (!token) continue;
      setText(row, "age", age(token.created_timestamp));
      if (view.max_age && !matchesView(token)) {
        forget(mint); // older than the view's age limit now
        aged = true;
      }
    }
    if (aged) renderKeepingPlace();
  }, 15000);

  // A phone keeps the run panel short: the load form opens on demand.
  const loadPanel = $("load-panel");
  if (loadPanel && window.matchMedia("(max-width: 600px)").matches) loadPanel.open = false;
  // ...and so do the filters, unless the view uses them.
  const moreFilters = $("more-filters");
  const filtersToggle = $("filters-toggle");
  function showFilters(open) {
    moreFilters.classList.toggle("open", open);
    filtersToggle.setAttribute("aria-expanded", String(open));
  }
  filtersToggle.addEventListener("click", () => showFilters(!moreFilters.classList.contains("open")));
  showFilters(["max_age", "min_usd_market_cap", "max_usd_market_cap", "min_holders", "min_progress", "socials"].some((n) => view[n]));

  for (const token of config.initial_tokens) tokens.set(token.mint, token);
  sortFromView();
  listPresets("");
  writeForm();
  showView();
  render();
  if (config.latest_run) showRun(Object.assign({type: "run"}, config.latest_run));
  if (layout === "pulse") loadLanes(); // the server drew the first cards; their data comes with the lanes
  connect();
})();
