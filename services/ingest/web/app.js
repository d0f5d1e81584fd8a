// The clinician page: start a live session, send the microphone over WebRTC, show the session's feed.
// Patient words only ever go into the DOM as text (textContent), never into the console or a URL.
// The page signs in by POSTing the clinic token to /v1/login; the server answers with an HttpOnly session
// cookie, which authenticates every later call (fetch, EventSource). No credential is kept by this script.
"use strict";

(() => {
  const SECTIONS = ["subjective", "objective", "assessment", "plan"];
  const FEED_TYPES = ["session", "partial", "segment", "draft", "codes", "error"];
  const ICE_WAIT_MS = 3000; // non-trickle: the offer goes out once candidates are gathered (or after this)
  const $ = (id) => document.getElementById(id);

  let s = freshSession(); // everything about the current session
  let extraContext = {}; // pasted context fields the form has no input for (baseline, date, ...)

  function freshSession() {
    return {
      sid: null, pc: null, mic: null, feed: null, phase: "idle", startedAt: 0, timer: 0,
      segments: new Map(), noteVersion: -1, codesVersion: -1,
    };
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers: { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "same-origin", // the session cookie; the browser adds Origin, which the server checks
      });
    } catch {
      throw new ApiError(0, "the scribe server cannot be reached (is `scribe serve` running?)");
    }
    let data = {};
    try { data = await resp.json(); } catch { /* an empty or non-JSON body */ }
    if (!resp.ok) {
      if (resp.status === 401 && path !== "/v1/login") showSignIn(true); // signed out, or the server restarted
      throw new ApiError(resp.status, data.error || resp.statusText);
    }
    return data;
  }

  // ---- signing in ----------------------------------------------------------------------------

  function showSignIn(needed) {
    $("signin").hidden = !needed;
    $("signout").hidden = needed;
    if (needed) $("signin-token").focus();
  }

  async function checkSignedIn() {
    try {
      await api("GET", "/v1/me");
      showSignIn(false);
    } catch (err) {
      if (err.status !== 401) showError(explain(err, "Reaching the server failed"));
    }
  }

  async function signIn(event) {
    event.preventDefault();
    const field = $("signin-token");
    const token = field.value.trim();
    field.value = ""; // not kept on the page either
    if (!token) { showError("Enter the clinic token to sign in."); return; }
    try {
      await api("POST", "/v1/login", { token });
    } catch (err) {
      showError(signInMessage(err));
      return;
    }
    showError("");
    showSignIn(false);
  }

  function signInMessage(err) {
    switch (err.status) {
      case 401: return "The server refused this clinic token (401). Use the current one: SCRIBE_TOKEN, or the "
        + "file ~/.local/state/scribe/token written by `scribe serve`.";
      case 429: return `Too many failed sign-ins from this computer (429): ${err.message}.`;
      default: return explain(err, "Signing in failed");
    }
  }

  async function signOut() {
    try { await api("POST", "/v1/logout"); } catch { /* signed out already */ }
    showSignIn(true);
  }

  function explain(err, doing) {
    if (!(err instanceof ApiError)) return `${doing}: ${err.message || err}`;
    switch (err.status) {
      case 0: return `${doing}: ${err.message}.`;
      case 401: return "You are not signed in, or the sign-in expired or the server restarted (401): sign in "
        + "again with the clinic token, then retry.";
      case 403: return `The server refused to start the session (403): ${err.message}. `
        + "Tick the consent box once the patient has agreed, then press Start.";
      case 400: return `The server could not use this request (400): ${err.message}.`;
      case 404: return `This session is not open on the server any more (404): ${err.message}.`;
      default: return `${doing}: the server answered ${err.status}: ${err.message}.`;
    }
  }

  function micMessage(err) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return "This browser allows the microphone only on https:// pages or on localhost: open the page "
        + "through https, or on the machine that runs the scribe.";
    }
    switch (err && err.name) {
      case "NotAllowedError": case "SecurityError":
        return "Microphone access was denied. Allow the microphone for this page (the icon in the address "
          + "bar or the site settings), then press Start again.";
      case "NotFoundError": case "OverconstrainedError":
        return "No microphone was found. Connect one, then press Start again.";
      case "NotReadableError":
        return "The microphone is in use by another application or cannot be opened.";
      default:
        return `The microphone could not be opened (${(err && err.name) || "unknown error"}).`;
    }
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  function setPhase(phase, label) {
    s.phase = phase;
    const status = $("status");
    status.dataset.state = phase;
    status.textContent = label;
    const live = phase === "recording" || phase === "paused";
    $("start").disabled = !(phase === "idle" || phase === "done");
    $("pause").disabled = phase !== "recording";
    $("resume").disabled = phase !== "paused";
    $("stop").disabled = !live;
    for (const el of $("context-form").elements) el.disabled = !(phase === "idle" || phase === "done");
  }

  // ---- the session context -------------------------------------------------------------------

  const lines = (id) => $(id).value.split("\n").map((l) => l.trim()).filter(Boolean);

  function hhmm(d) {
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  }

  function contextFromForm() {
    if (!$("session_start").value.trim()) $("session_start").value = hhmm(new Date()); // it starts now
    const ctx = { ...extraContext };
    for (const id of ["mode", "discipline", "note_type", "payer", "session_start", "diagnosis"]) {
      ctx[id] = $(id).value.trim();
    }
    if ($("billing_method").value) ctx.billing_method = $("billing_method").value;
    else delete ctx.billing_method;
    ctx.goals = lines("goals");
    ctx.vocabulary = lines("vocabulary");
    return ctx;
  }

  function fillFormFromJson() {
    let data;
    try {
      data = JSON.parse($("context-json").value);
    } catch {
      showError("The pasted context is not valid JSON.");
      return;
    }
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      showError("The pasted context must be a JSON object.");
      return;
    }
    const fields = ["mode", "discipline", "note_type", "payer", "billing_method", "session_start", "diagnosis"];
    for (const id of fields) if (typeof data[id] === "string") $(id).value = data[id];
    if (Array.isArray(data.goals)) $("goals").value = data.goals.join("\n");
    if (Array.isArray(data.vocabulary)) $("vocabulary").value = data.vocabulary.join("\n");
    extraContext = {};
    for (const [k, v] of Object.entries(data)) {
      if (!fields.includes(k) && k !== "goals" && k !== "vocabulary") extraContext[k] = v;
    }
    showError("");
    $("json-box").open = false;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  async function start() {
    showError("");
    clearViews();
    s = freshSession();
    setPhase("starting", "Starting…");
    let sid;
    try {
      // Consent and context are checked by the server before the microphone is even opened.
      sid = (await api("POST", "/v1/sessions", { context: contextFromForm(), consent: $("consent").checked }))
        .session_id;
    } catch (err) {
      setPhase("idle", "Not recording");
      showError(explain(err, "Starting the session failed"));
      return;
    }
    s.sid = sid;
    openFeed(sid); // before any audio, so the first partial is not missed
    try {
      s.mic = await navigator.mediaDevices.getUserMedia({
        // what the recogniser was measured on: the room as it is, no voice processing
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      showError(micMessage(err));
      await abandon(sid);
      return;
    }
    try {
      await connectAudio();
    } catch (err) {
      showError(explain(err, "Connecting the audio failed"));
      await abandon(sid);
      return;
    }
    s.startedAt = performance.now();
    s.timer = window.setInterval(tick, 250);
    $("session-info").textContent = `Session ${sid}` + ($("patient").value ? ` · patient ${$("patient").value}` : "");
    setPhase("recording", "Recording");
  }

  // A session that never got audio (microphone denied, no connection) is closed at once, not left open.
  async function abandon(sid) {
    releaseAudio();
    closeFeed();
    try { await api("POST", `/v1/sessions/${sid}/stop`); } catch { /* already gone */ }
    setPhase("idle", "Not recording");
  }

  async function connectAudio() {
    if (s.pc) s.pc.close();
    const pc = new RTCPeerConnection({ iceServers: [] });
    s.pc = pc;
    for (const track of s.mic.getAudioTracks()) pc.addTrack(track, s.mic);
    pc.addEventListener("connectionstatechange", () => onConnectionState(pc));
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const answer = await api("POST", `/v1/sessions/${s.sid}/webrtc`,
      { sdp: pc.localDescription.sdp, type: pc.localDescription.type });
    await pc.setRemoteDescription(answer);
  }

  function iceGathered(pc) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") { resolve(); return; }
      const timer = window.setTimeout(resolve, ICE_WAIT_MS);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { window.clearTimeout(timer); resolve(); }
      });
    });
  }

  function onConnectionState(pc) {
    if (pc !== s.pc || (s.phase !== "recording" && s.phase !== "paused")) return;
    const state = pc.connectionState;
    $("status").dataset.link = state;
    if (state === "failed") {
      // The server keeps the session open with what it received; Resume sends a new offer.
      showError("The audio connection was lost. The session is kept: press Resume to reconnect, or Stop.");
      if (s.phase === "recording") setPhase("paused", "Connection lost");
    } else if (state === "disconnected") {
      $("status").textContent = "Connection unstable…"; // often recovers by itself
    } else if (state === "connected") {
      $("status").textContent = s.phase === "paused" ? "Paused" : "Recording";
    }
  }

  async function pause() {
    try {
      await api("POST", `/v1/sessions/${s.sid}/pause`);
    } catch (err) {
      showError(explain(err, "Pausing failed"));
      return;
    }
    for (const t of s.mic.getAudioTracks()) t.enabled = false; // nothing said while paused leaves the room
    setPhase("paused", "Paused");
  }

  async function resume() {
    showError("");
    try {
      const state = s.pc && s.pc.connectionState;
      if (!s.pc || state === "failed" || state === "disconnected" || state === "closed") await connectAudio();
      await api("POST", `/v1/sessions/${s.sid}/resume`);
    } catch (err) {
      showError(explain(err, "Resuming failed"));
      return;
    }
    for (const t of s.mic.getAudioTracks()) t.enabled = true;
    setPhase("recording", "Recording");
  }

  async function stop() {
    setPhase("stopping", "Finishing the note…");
    try {
      await api("POST", `/v1/sessions/${s.sid}/stop`);
    } catch (err) {
      showError(explain(err, "Stopping failed"));
    }
    releaseAudio();
    window.clearInterval(s.timer);
    if (s.phase === "stopping" && !s.feed) setPhase("done", "Stopped");
  }

  function releaseAudio() {
    if (s.pc) s.pc.close();
    if (s.mic) for (const t of s.mic.getTracks()) t.stop();
    s.pc = null;
  }

  function tick() {
    $("clock").textContent = clock((performance.now() - s.startedAt) / 1000).slice(0, 5);
  }

  // ---- the live feed -------------------------------------------------------------------------

  function openFeed(sid) {
    // EventSource cannot send headers: the session cookie (same origin) authenticates it.
    const feed = new EventSource(`/v1/sessions/${sid}/events`);
    s.feed = feed;
    for (const type of FEED_TYPES) {
      feed.addEventListener(type, (msg) => {
        if (feed !== s.feed) return;
        let event;
        try { event = JSON.parse(msg.data); } catch { return; }
        handlers[type](event);
      });
    }
    feed.onerror = () => {
      if (feed !== s.feed) return;
      if (feed.readyState === EventSource.CLOSED) {
        showError("The live transcript feed could not be opened (signed out, or the session is gone).");
        closeFeed();
      }
    };
  }

  function closeFeed() {
    if (s.feed) s.feed.close();
    s.feed = null;
  }

  const handlers = {
    session(ev) {
      if (ev.kind === "stopped") $("session-info").textContent += ` · ${Math.round(ev.duration_s)} s recorded`;
    },
    partial(ev) {
      if (s.segments.has(ev.seq)) return; // its utterance is already committed
      const stable = ev.stable || "";
      const tail = ev.text.startsWith(stable) ? ev.text.slice(stable.length) : ` ${ev.text}`;
      const p = $("partial");
      p.dataset.seq = ev.seq;
      p.querySelector(".stable").textContent = stable;
      p.querySelector(".tail").textContent = tail;
    },
    segment(ev) {
      if (s.segments.has(ev.seq)) return; // a reconnected feed replays from the start
      const p = $("partial");
      if (Number(p.dataset.seq) <= ev.seq) clearPartial();
      const li = document.createElement("li");
      li.dataset.seq = ev.seq;
      s.segments.set(ev.seq, li);
      if (!ev.text) return; // decoded, nothing said: kept for ordering, not shown
      const time = document.createElement("time");
      time.textContent = clock(ev.start_s);
      const text = document.createElement("span");
      text.textContent = ev.text;
      li.append(time, text);
      insertInOrder($("segments"), li, ev.seq);
      li.scrollIntoView({ block: "nearest" });
    },
    draft(ev) {
      if (ev.version < s.noteVersion) return;
      s.noteVersion = ev.version;
      renderNote(ev.note);
      $("note-state").textContent = ev.is_final ? "final" : "updating";
    },
    codes(ev) {
      if (ev.version < s.codesVersion) return;
      s.codesVersion = ev.version;
      if (ev.note && ev.version >= s.noteVersion) { // the coder's copy of the note marks needs_review
        s.noteVersion = ev.version;
        renderNote(ev.note);
      }
      renderCodes(ev);
      $("codes-state").textContent = ev.is_final ? "final" : "updating";
      if (ev.is_final) {
        $("note-state").textContent = "final";
        clearPartial();
        closeFeed();
        setPhase("done", "Done: review and sign the note");
        $("consent").checked = false; // the next session needs its own patient's consent
      }
    },
    error(ev) {
      // stage and category only: error events never carry transcript words
      showError(`The ${ev.stage} stage reported a problem (${ev.category})${ev.fatal ? "; the session cannot finish" : ""}.`);
    },
  };

  function insertInOrder(list, li, seq) {
    for (const other of list.children) {
      if (Number(other.dataset.seq) > seq) { list.insertBefore(li, other); return; }
    }
    list.append(li);
  }

  function clearPartial() {
    const p = $("partial");
    delete p.dataset.seq;
    p.querySelector(".stable").textContent = "";
    p.querySelector(".tail").textContent = "";
  }

  function renderNote(note) {
    for (const name of SECTIONS) {
      const ul = document.querySelector(`#note ul[data-section="${name}"]`);
      ul.replaceChildren();
      for (const item of note[name] || []) {
        const li = document.createElement("li");
        const text = typeof item === "string" ? item : item.text;
        li.textContent = text;
        if (item && item.needs_review) {
          li.classList.add("needs-review");
          const mark = document.createElement("span");
          mark.className = "review-mark";
          mark.textContent = "check";
          mark.title = "The recogniser was unsure of this measure: check it against what was said.";
          li.prepend(mark);
        }
        ul.append(li);
      }
    }
  }

  function renderCodes(ev) {
    const body = $("codes").querySelector("tbody");
    body.replaceChildren();
    for (const c of ev.codes || []) {
      const tr = document.createElement("tr");
      const cells = [c.cpt, String(c.units), String(c.minutes),
        c.start && c.stop ? `${c.start}–${c.stop}` : "", (c.modifiers || []).join(", ")];
      for (const value of cells) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.append(td);
      }
      if (c.rationale) tr.title = c.rationale;
      body.append(tr);
    }
    $("billing").textContent = ev.billing_method ? `Billing method: ${ev.billing_method}` : "";
    const flags = $("flags");
    flags.replaceChildren();
    for (const f of ev.flags || []) {
      const li = document.createElement("li");
      const kind = document.createElement("strong");
      kind.textContent = f.kind.replaceAll("_", " ") + (f.cpt ? ` (${f.cpt})` : "");
      li.append(kind, document.createTextNode(`: ${f.message}`));
      if (f.dismissed) {
        li.classList.add("dismissed");
        li.append(document.createTextNode(` (dismissed: ${f.dismiss_reason})`));
      }
      flags.append(li);
    }
  }

  function clearViews() {
    $("segments").replaceChildren();
    clearPartial();
    renderNote({});
    renderCodes({});
    $("note-state").textContent = "";
    $("codes-state").textContent = "";
    $("session-info").textContent = "";
    $("clock").textContent = "00:00";
  }

  function clock(seconds) {
    const m = Math.floor(seconds / 60);
    const sec = Math.floor(seconds % 60);
    return `${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
  }

  $("start").addEventListener("click", start);
  $("pause").addEventListener("click", pause);
  $("resume").addEventListener("click", resume);
  $("stop").addEventListener("click", stop);
  $("use-json").addEventListener("click", fillFormFromJson);
  $("context-form").addEventListener("submit", (e) => e.preventDefault());
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  window.addEventListener("beforeunload", (e) => {
    if (s.phase === "recording" || s.phase === "paused") e.preventDefault(); // a session is still open
  });
  setPhase("idle", "Not recording");
  checkSignedIn();
})();
