/**
 * The console's one script, served at /console/assets/console.js (the CSP allows scripts from this
 * origin only, never inline). Progressive enhancement: every form works without it.
 * - Upload forms (`data-upload`) are sent with XMLHttpRequest so a progress bar shows the bytes sent;
 *   on success the browser goes where the plain form would have (the redirect's target), on failure
 *   the error page's message is shown beside the form.
 * - The rollout slider (`data-estimate`) shows its value as it moves and, once it rests, fetches the
 *   audience estimate at that percentage (the same block the plain form renders) into the page.
 * Kept as plain ES2020 in a string: there is no client build step.
 */
export const CONSOLE_JS = `"use strict";
(function () {
  function fromPage(html, selector) {
    var page = new DOMParser().parseFromString(html, "text/html");
    return Array.prototype.map.call(page.querySelectorAll(selector), function (n) {
      return document.importNode(n, true);
    });
  }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var bar = form.querySelector("progress");
    var status = form.querySelector("[role=status]");
    var errors = form.querySelector("[role=alert]");
    var button = form.querySelector("button[type=submit]");
    function failed(nodes) {
      errors.replaceChildren.apply(errors, nodes);
      status.textContent = "The upload failed.";
      bar.hidden = true;
      button.disabled = false;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // The file goes as the raw body (as the admin API takes it), the form's other fields in the
      // query and the CSRF token in a header: no multipart copy of a large list on the server.
      var file = form.querySelector("input[type=file]").files[0];
      if (!file) return;
      var url = new URL(form.action);
      url.searchParams.set("list", form.elements.list.value);
      url.searchParams.set("mode", form.querySelector("input[name=mode]:checked").value);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("content-type", "text/plain");
      xhr.setRequestHeader("x-updraft-csrf", form.elements._csrf.value);
      var said = -1;
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        bar.max = e.total;
        bar.value = e.loaded;
        // Announced in steps of 10 %, not on every progress event.
        var step = Math.floor((10 * e.loaded) / e.total) * 10;
        if (step !== said) status.textContent = (said = step) + " % sent";
      });
      xhr.upload.addEventListener("load", function () {
        status.textContent = "Sent; checking and storing the entries…";
      });
      xhr.addEventListener("load", function () {
        if (xhr.status < 400) {
          window.location.assign(xhr.responseURL);
          return;
        }
        var html = (xhr.getResponseHeader("content-type") || "").indexOf("text/html") === 0;
        var shown = html ? fromPage(xhr.responseText, "main [role=alert], ul.field-errors") : [];
        failed(shown.length ? shown : [xhr.responseText || "The upload failed (" + xhr.status + ")."]);
      });
      xhr.addEventListener("error", function () {
        failed(["The upload did not reach the server: check the connection and retry."]);
      });
      errors.replaceChildren();
      bar.value = 0;
      bar.hidden = false;
      button.disabled = true;
      status.textContent = "Uploading…";
      xhr.send(file);
    });
  });

  var slider = document.querySelector("input[data-estimate]");
  var output = document.getElementById("basisPoints-value");
  var target = document.getElementById("estimate");
  var said = document.getElementById("estimate-status");
  if (slider && output && target && said) {
    var timer = null;
    var inflight = null;
    slider.addEventListener("input", function () {
      var text = Number(slider.value) / 100 + " %";
      output.textContent = text;
      slider.setAttribute("aria-valuetext", text);
    });
    slider.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (inflight) inflight.abort();
        var mine = (inflight = new AbortController());
        var url = new URL(slider.dataset.estimate, window.location.href);
        url.searchParams.set("basisPoints", slider.value);
        target.setAttribute("aria-busy", "true");
        fetch(url, { credentials: "same-origin", signal: mine.signal })
          .then(function (res) {
            if (!res.ok || res.redirected) throw new Error("estimate " + res.status);
            return res.text();
          })
          .then(function (html) {
            var hadFocus = target.contains(document.activeElement);
            target.replaceChildren.apply(target, fromPage(html, "body > *"));
            var sentence = target.querySelector("p");
            said.textContent = sentence ? sentence.textContent : "";
            var save = target.querySelector("button");
            if (hadFocus && save) save.focus();
          })
          .catch(function () {
            if (mine.signal.aborted) return;
            // No stale "Save" beside a moved slider: the plain button still estimates.
            var p = document.createElement("p");
            p.textContent = "The estimate could not be fetched: use Estimate the audience.";
            target.replaceChildren(p);
            said.textContent = p.textContent;
          })
          .finally(function () {
            if (inflight === mine) target.removeAttribute("aria-busy");
          });
      }, 250);
    });
  }
})();
`;
