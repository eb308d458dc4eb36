// Hall display: plays the announcements the node pushes (chime, then the call in each language), strictly one
// after another in sequence order, never two at once, each once (remembered for this browser session), and
// reports that the page is alive. Chromium for displays is started with --autoplay-policy=no-user-gesture-required;
// without it the browser blocks sound and an "enable sound" button appears for a technician to press once.
(function () {
  "use strict";
  var KEY = "markaz.display.played";
  var state = { epoch: null, seq: 0 };
  try { state = JSON.parse(sessionStorage.getItem(KEY)) || state; } catch (e) { /* fresh */ }
  var queue = [];
  var playing = false;
  var player = new Audio();
  var log = { requested: [], played: [], volumes: [], blocked: false };
  window.hallAudio = log;

  // the screen's root (the body carries data-screen too): its data-volume is the display's profile
  function displayRoot() { return document.querySelector('#screen [data-screen="display"]') || document.body; }

  function save() { try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode */ } }

  function collect() {
    var root = document.querySelector('[data-screen="display"]');
    if (!root) { return; }
    var epoch = root.getAttribute("data-epoch");
    if (epoch !== state.epoch) { state = { epoch: epoch, seq: 0 }; }  // the node restarted: it numbers afresh
    var items = root.querySelectorAll("#announcements li");
    for (var i = 0; i < items.length; i++) {
      var li = items[i];
      var seq = parseInt(li.getAttribute("data-seq"), 10);
      if (seq <= state.seq) { continue; }
      state.seq = seq;
      var urls = [li.getAttribute("data-chime")].filter(Boolean);  // the profile may turn the chime off
      var speech = (li.getAttribute("data-speech") || "").split(" ").filter(Boolean);
      queue.push({ seq: seq, number: li.getAttribute("data-number"), counter: li.getAttribute("data-counter"),
                   kind: li.getAttribute("data-kind"),
                   urls: urls.concat(speech) });
    }
    save();
    next();
  }

  function playOne(url) {
    return new Promise(function (resolve, reject) {
      player.onended = function () { resolve(); };
      player.onerror = function () { resolve(); };  // a missing file must not stop the queue
      var volume = parseInt(displayRoot().getAttribute("data-volume") || "100", 10);  // the display's profile
      player.volume = Math.max(0, Math.min(100, isNaN(volume) ? 100 : volume)) / 100;
      player.src = url;
      log.requested.push(url);
      log.volumes.push(player.volume);
      var started = player.play();
      if (started && started.catch) { started.catch(reject); }
    });
  }

  function next() {
    if (playing || queue.length === 0) { return; }
    playing = true;
    var item = queue[0];
    var entry = { seq: item.seq, number: item.number, counter: item.counter, kind: item.kind,
                  start: performance.now(), end: null };
    var chain = Promise.resolve();
    item.urls.forEach(function (url) { chain = chain.then(function () { return playOne(url); }); });
    chain.then(function () {
      entry.end = performance.now();
      log.played.push(entry);
      queue.shift();
      playing = false;
      next();
    }, function (err) {
      playing = false;
      if (err && err.name === "NotAllowedError") { askForSound(); } else { queue.shift(); next(); }
    });
  }

  function askForSound() {
    log.blocked = true;
    if (document.getElementById("enable-sound")) { return; }
    var button = document.createElement("button");
    button.id = "enable-sound";
    button.type = "button";
    button.className = "sound-gate";
    button.textContent = document.documentElement.lang === "ar" ? "تشغيل الصوت" : "Enable sound";
    button.addEventListener("click", function () {
      log.blocked = false;
      button.remove();
      next();
    });
    document.body.appendChild(button);
  }

  function heartbeat() {
    fetch("/display/heartbeat", { method: "POST", credentials: "same-origin" }).catch(function () {});
  }

  new MutationObserver(collect).observe(document.getElementById("screen"), { childList: true, subtree: true });
  collect();
  heartbeat();
  var root = document.querySelector('[data-screen="display"]');
  var every = parseFloat((root && root.getAttribute("data-heartbeat-s")) || "15") * 1000;
  setInterval(heartbeat, every);
})();
