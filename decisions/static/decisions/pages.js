/* Countersign analyst pages: progressive enhancement only. Every page works without this file:
   deadlines are printed as times, the queue refreshes through a <noscript> meta refresh, and the
   server validates every verdict. Nothing is fetched from anywhere but this site. */
(function () {
  "use strict";

  // The server's clock, so that a countdown does not depend on the browser's clock being right.
  var serverNow = Date.parse(document.body.getAttribute("data-server-now"));
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function describe(ms) {
    var overdue = ms < 0;
    var total = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var text = (h ? h + " h " : "") + pad(m) + " min " + pad(s) + " s";
    return overdue ? "overdue by " + text : text + " left";
  }

  function tick() {
    var now = Date.now() + skew;
    var items = document.querySelectorAll("[data-deadline]");
    for (var i = 0; i < items.length; i++) {
      var el = items[i];
      var ms = Date.parse(el.getAttribute("data-deadline")) - now;
      if (isNaN(ms)) continue;
      el.textContent = describe(ms);
      el.classList.toggle("overdue", ms < 0);
      el.classList.toggle("soon", ms >= 0 && ms < 5 * 60 * 1000);
    }
  }

  function startCountdowns() {
    if (document.querySelector("[data-deadline]")) {
      tick();
      window.setInterval(tick, 1000);
    }
  }

  // The queue: every N seconds fetch this page again and swap the list in when it changed. Never
  // under the keyboard focus; a button pauses it (WCAG 2.2.1, timing adjustable).
  function startQueueRefresh() {
    var region = document.getElementById("queue-region");
    if (!region || !window.fetch || !window.DOMParser) return;
    var seconds = parseInt(region.getAttribute("data-refresh"), 10) || 30;
    var status = document.getElementById("refresh-status");
    var toggle = document.getElementById("refresh-toggle");
    var paused = false;
    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        paused = !paused;
        toggle.setAttribute("aria-pressed", paused ? "true" : "false");
        toggle.textContent = paused ? "Resume auto-refresh" : "Pause auto-refresh";
      });
    }
    function stamp(text) {
      if (status) status.textContent = text;
    }
    window.setInterval(function () {
      if (paused || document.hidden) return;
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (response.redirected || !response.ok) {
            // Signed out (or the session ended): let the server say where to go.
            window.location.reload();
            return null;
          }
          return response.text();
        })
        .then(function (html) {
          if (html === null) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("queue-region");
          if (!fresh) return;
          var time = new Date().toLocaleTimeString();
          if (fresh.getAttribute("data-signature") === region.getAttribute("data-signature")) {
            stamp("Up to date (checked " + time + "). This list refreshes every " + seconds + " seconds.");
            return;
          }
          if (region.contains(document.activeElement)) {
            stamp("The queue changed. Reload the page to see it.");
            return;
          }
          region.innerHTML = fresh.innerHTML;
          region.setAttribute("data-signature", fresh.getAttribute("data-signature"));
          var rows = region.querySelectorAll("tbody tr").length;
          stamp("Queue updated at " + time + ": " + rows + (rows === 1 ? " decision waits" : " decisions wait") + " for you.");
          tick();
        })
        .catch(function () {
          stamp("Could not refresh the queue; retrying in " + seconds + " seconds.");
        });
    }, seconds * 1000);
  }

  // The sign-off form: offer only the reasons that fit the chosen verdict, and show the
  // changed-action box (pre-filled with the current target) only for an override.
  function enhanceSignOffForm() {
    var form = document.getElementById("signoff-form");
    if (!form) return;
    var reasons = JSON.parse(document.getElementById("reasons-by-verdict").textContent);
    var template = JSON.parse(document.getElementById("override-template").textContent);
    var select = form.querySelector("select[name=reason_code]");
    var box = document.getElementById("override-field");
    var textarea = box ? box.querySelector("textarea") : null;

    function update() {
      var checked = form.querySelector("input[name=verdict]:checked");
      var verdict = checked ? checked.value : null;
      if (select) {
        var options = select.querySelectorAll("option");
        for (var i = 0; i < options.length; i++) {
          var option = options[i];
          if (!option.value) continue;
          var fits = !verdict || reasons[verdict].indexOf(option.value) !== -1;
          option.disabled = !fits;
          option.hidden = !fits;
        }
        var groups = select.querySelectorAll("optgroup");
        for (var j = 0; j < groups.length; j++) {
          groups[j].hidden = !groups[j].querySelector("option:not([hidden])");
        }
        if (select.selectedOptions.length && select.selectedOptions[0].disabled) select.value = "";
      }
      if (box && textarea) {
        var isOverride = verdict === "override";
        box.hidden = !isOverride;
        textarea.disabled = !isOverride;
        if (isOverride && !textarea.value.trim()) textarea.value = JSON.stringify(template, null, 2);
      }
    }
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name === "verdict") update();
    });
    update();
  }

  startCountdowns();
  startQueueRefresh();
  enhanceSignOffForm();
})();
