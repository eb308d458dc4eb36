// Counter keyboard shortcuts: a key (or a foot switch programmed to send it) presses the action's button, which
// markaz live.js sends to the node. Matched on the physical key (event.code) so an Arabic layout works the same.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) { return; }
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var button = document.querySelector('#screen button[data-key="' + event.code + '"]');
    if (!button) { return; }
    event.preventDefault();
    if (button.disabled) {
      var why = document.getElementById(button.getAttribute("aria-describedby") || "");
      if (why) { why.classList.add("flash"); }
      return;
    }
    if (button.getAttribute("data-action") === "transfer") { button.focus(); return; }  // then choose the service
    button.click();
  });
})();

// A pushed redraw replaces the buttons: keep the keyboard focus on the same control, so an officer who tabbed (or
// pressed T) to a button does not lose it when another counter's call redraws the screen.
(function () {
  "use strict";
  var last = null;
  document.addEventListener("focusin", function (event) {
    var t = event.target;
    if (t.id) { last = "#" + t.id; } else if (t.getAttribute("data-service")) {
      last = 'button[data-service="' + t.getAttribute("data-service") + '"]';
    }
  });
  var screen = document.getElementById("screen");
  if (!screen) { return; }
  new MutationObserver(function () {
    if (!last || (document.activeElement && document.activeElement !== document.body)) { return; }
    var again = screen.querySelector(last);
    if (again && !again.disabled) { again.focus(); }
  }).observe(screen, { childList: true });
})();

// A counter terminal's profile signs idle staff out (idle_sign_out_min): a warning 20 s before, with a button to stay
// (any key or touch counts as activity too; WCAG 2.2.1), then the staff sign-out. Only on a terminal's page.
(function () {
  "use strict";
  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") : null;
  }
  var limit = Number(meta("markaz-idle-sign-out-s"));
  if (!limit) { return; }
  var warnAt = Math.max(0, limit - 20) * 1000;
  var last = Date.now();
  var box = null;
  function hide() { if (box) { box.remove(); box = null; } }
  function active() { last = Date.now(); hide(); }
  ["keydown", "pointerdown", "touchstart"].forEach(function (kind) {
    document.addEventListener(kind, active, { capture: true, passive: true });
  });
  function warn() {
    box = document.createElement("div");
    box.className = "notice error idle-warning";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-labelledby", "idle-warning-text");
    box.setAttribute("data-idle-warning", "1");
    var text = document.createElement("p");
    text.id = "idle-warning-text";
    text.textContent = meta("markaz-idle-warning");
    var stay = document.createElement("button");
    stay.type = "button";
    stay.textContent = meta("markaz-idle-stay");
    stay.addEventListener("click", active);
    box.appendChild(text);
    box.appendChild(stay);
    document.body.appendChild(box);
    stay.focus();
  }
  setInterval(function () {
    var idle = Date.now() - last;
    if (idle >= limit * 1000) { window.location.assign(meta("markaz-idle-sign-out")); return; }
    if (idle >= warnAt && !box) { warn(); }
  }, 1000);
})();

// A counter terminal's profile may ask for a short tone each time this counter calls a ticket (beep_on_call): the
// officer looking away from the screen hears that the call went out. The page counts its tones in data-beeps.
(function () {
  "use strict";
  if (!document.querySelector('meta[name="markaz-beep-on-call"]')) { return; }
  var screen = document.getElementById("screen");
  if (!screen) { return; }
  var audio = null;
  function calling() {
    var view = screen.querySelector('[data-screen="counter"]');
    return view && view.getAttribute("data-ticket-status") === "called" ? view.getAttribute("data-ticket") : "";
  }
  function beep() {
    document.body.setAttribute("data-beeps", String(Number(document.body.getAttribute("data-beeps")) + 1));
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.2;
      tone.connect(gain);
      gain.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.15);
    } catch (e) { /* no audio device: the call is still on the screen */ }
  }
  var shown = calling();
  document.body.setAttribute("data-beeps", "0");
  new MutationObserver(function () {
    var now = calling();
    if (now && now !== shown) { beep(); }
    shown = now;
  }).observe(screen, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-ticket", "data-ticket-status"] });
})();
