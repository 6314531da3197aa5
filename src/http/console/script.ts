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
    var button = form.querySelector("button[type=submit]");
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
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        bar.max = e.total;
        bar.value = e.loaded;
        status.textContent = Math.round((100 * e.loaded) / e.total) + " % sent";
      });
      xhr.upload.addEventListener("load", function () {
        status.textContent = "Sent; checking and storing the entries…";
      });
      xhr.addEventListener("load", function () {
        if (xhr.status < 400) {
          window.location.assign(xhr.responseURL);
          return;
        }
        var shown = fromPage(xhr.responseText, "[role=alert], ul.field-errors");
        status.replaceChildren.apply(status, shown.length ? shown : ["The upload failed (" + xhr.status + ")."]);
        bar.hidden = true;
        button.disabled = false;
      });
      xhr.addEventListener("error", function () {
        status.textContent = "The upload did not reach the server: check the connection and retry.";
        bar.hidden = true;
        button.disabled = false;
      });
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
  if (slider && output && target) {
    var timer = null;
    var inflight = null;
    slider.addEventListener("input", function () {
      output.textContent = Number(slider.value) / 100 + " %";
    });
    slider.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (inflight) inflight.abort();
        inflight = new AbortController();
        var url = new URL(slider.dataset.estimate, window.location.href);
        url.searchParams.set("basisPoints", slider.value);
        target.setAttribute("aria-busy", "true");
        fetch(url, { credentials: "same-origin", signal: inflight.signal })
          .then(function (res) {
            if (!res.ok || res.redirected) throw new Error("estimate " + res.status);
            return res.text();
          })
          .then(function (html) {
            target.replaceChildren.apply(target, fromPage(html, "body > *"));
          })
          .catch(function () {})
          .finally(function () {
            target.removeAttribute("aria-busy");
          });
      }, 250);
    });
  }
})();
`;
