// kcred console: reveal and copy secrets, the "..." menus, confirmation
// dialogs and live search. Plain script, no library; every page also works
// without it except reveal and copy.
(function () {
  "use strict";

  function csrf() {
    var input = document.querySelector('input[name="csrf"]');
    return input ? input.value : "";
  }

  // fetchSecret asks the server for a password or key. Each call is one
  // read through kcred's lifecycle and one audit event.
  function fetchSecret(url, what) {
    var body = new FormData();
    body.append("csrf", csrf());
    body.append("what", what);
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok || typeof data.value !== "string") {
          throw new Error(data.message || "kcred could not read the secret (HTTP " + res.status + ").");
        }
        return data.value;
      });
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      if (ok) { resolve(); } else { reject(new Error("Copying is not allowed here; select the text and copy it.")); }
    });
  }

  function flash(kind, text) {
    var main = document.getElementById("main");
    if (!main) { return; }
    var old = document.getElementById("flash");
    if (old) { old.remove(); }
    var div = document.createElement("div");
    div.id = "flash";
    div.className = "flash flash-" + kind;
    div.setAttribute("role", kind === "error" ? "alert" : "status");
    var span = document.createElement("span");
    span.textContent = text;
    div.appendChild(span);
    var crumbs = main.querySelector(".crumbs");
    main.insertBefore(div, crumbs ? crumbs.nextSibling : main.firstChild);
  }

  // Passwords: revealed in place, fetched once per page view.
  var passwords = {};
  function password(url, id) {
    if (passwords[id]) { return Promise.resolve(passwords[id]); }
    return fetchSecret(url, "password").then(function (v) { passwords[id] = v; return v; });
  }
  function secretSpan(id) { return document.querySelector('[data-secret="' + id + '"]'); }

  function showPassword(btn) {
    var id = btn.getAttribute("data-target");
    var span = secretSpan(id);
    if (!span) { return; }
    if (btn.getAttribute("aria-pressed") === "true") {
      span.innerHTML = "";
      var mask = document.createElement("span");
      mask.className = "mask";
      mask.textContent = "••••••••••••";
      span.appendChild(mask);
      btn.setAttribute("aria-pressed", "false");
      btn.setAttribute("aria-label", btn.getAttribute("aria-label").replace(/^Hide/, "Show"));
      return;
    }
    password(btn.getAttribute("data-reveal-password"), id).then(function (v) {
      span.textContent = v;
      btn.setAttribute("aria-pressed", "true");
      btn.setAttribute("aria-label", btn.getAttribute("aria-label").replace(/^Show/, "Hide"));
    }, function (err) { flash("error", err.message); });
  }

  function copyPassword(btn) {
    var id = btn.getAttribute("data-target");
    password(btn.getAttribute("data-copy-password"), id).then(copyText).then(function () {
      btn.setAttribute("title", "Copied");
      flash("success", "Password copied to the clipboard.");
    }, function (err) { flash("error", err.message); });
  }

  // The PEM dialog shows an access cert (in the page) or key (fetched).
  var pemDialog = null;
  function openPEM(title, note, text) {
    pemDialog = pemDialog || document.getElementById("pem-dialog");
    if (!pemDialog) { return; }
    document.getElementById("pem-title").textContent = title;
    document.getElementById("pem-note").textContent = note;
    document.getElementById("pem-text").textContent = text;
    document.getElementById("pem-status").textContent = "";
    pemDialog.showModal();
  }

  function showCert(btn) {
    var src = document.getElementById(btn.getAttribute("data-show-cert"));
    if (!src) { return; }
    openPEM("Access certificate of " + btn.getAttribute("data-user"),
      "Save it as service.cert. The certificate is public; the key is not.", src.textContent.trim() + "\n");
  }

  function showKey(btn) {
    fetchSecret(btn.getAttribute("data-show-key"), "key").then(function (v) {
      openPEM("Access key of " + btn.getAttribute("data-user"),
        "Save it as service.key and keep it private. This read is recorded in the project's events.", v);
    }, function (err) { flash("error", err.message); });
  }

  // Confirmation: forms with data-confirm ask in a dialog first; the
  // server asks on its own page when this script does not run.
  var confirmDialog = document.getElementById("confirm-dialog");
  var pendingForm = null;
  function confirmSubmit(form) {
    if (!confirmDialog || typeof confirmDialog.showModal !== "function") { return false; }
    document.getElementById("confirm-title").textContent = form.getAttribute("data-confirm-title") || "Are you sure?";
    document.getElementById("confirm-body").textContent = form.getAttribute("data-confirm");
    document.getElementById("confirm-ok").textContent = form.getAttribute("data-confirm-button") || "Confirm";
    confirmDialog.returnValue = "";
    pendingForm = form;
    closeMenus(null);
    confirmDialog.showModal();
    return true;
  }
  if (confirmDialog) {
    confirmDialog.addEventListener("close", function () {
      // A close event can arrive late, after the dialog opened again.
      if (confirmDialog.open || !pendingForm) { return; }
      var form = pendingForm;
      pendingForm = null;
      if (confirmDialog.returnValue !== "ok") { return; }
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "confirm";
      input.value = "yes";
      form.appendChild(input);
      form.submit();
    });
  }

  // Menus: <details> elements; this adds arrow keys, Escape, and closing
  // on a click elsewhere.
  function menuItems(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll(".menu-item"));
  }
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (m) {
      if (m !== except) { m.open = false; }
    });
  }
  document.querySelectorAll("details[data-menu]").forEach(function (menu) {
    menu.addEventListener("toggle", function () {
      if (menu.open) {
        closeMenus(menu);
        var items = menuItems(menu);
        if (items.length) { items[0].focus(); }
      }
    });
    menu.addEventListener("keydown", function (ev) {
      var items = menuItems(menu);
      var i = items.indexOf(document.activeElement);
      var next = null;
      switch (ev.key) {
        case "Escape":
          if (menu.open) {
            menu.open = false;
            menu.querySelector("summary").focus();
            ev.preventDefault();
          }
          return;
        case "ArrowDown":
          if (!menu.open) { menu.open = true; return; }
          next = items[(i + 1) % items.length];
          break;
        case "ArrowUp":
          if (!menu.open) { menu.open = true; return; }
          next = items[(i - 1 + items.length) % items.length];
          break;
        case "Home":
          next = items[0];
          break;
        case "End":
          next = items[items.length - 1];
          break;
        default:
          return;
      }
      if (next && menu.open) {
        ev.preventDefault();
        next.focus();
      }
    });
  });
  document.addEventListener("click", function (ev) {
    var inMenu = ev.target.closest && ev.target.closest("details[data-menu]");
    closeMenus(inMenu);
  });

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button");
    if (!btn) { return; }
    if (btn.hasAttribute("data-reveal-password")) { showPassword(btn); }
    else if (btn.hasAttribute("data-copy-password")) { copyPassword(btn); }
    else if (btn.hasAttribute("data-show-cert")) { showCert(btn); }
    else if (btn.hasAttribute("data-show-key")) { showKey(btn); }
    else if (btn.hasAttribute("data-copy-text")) {
      var el = document.getElementById(btn.getAttribute("data-copy-text"));
      if (el) {
        copyText(el.textContent.trim()).then(function () { flash("success", "Copied to the clipboard."); },
          function (err) { flash("error", err.message); });
      }
    }
  });

  var pemCopy = document.getElementById("pem-copy");
  if (pemCopy) {
    pemCopy.addEventListener("click", function () {
      copyText(document.getElementById("pem-text").textContent).then(function () {
        document.getElementById("pem-status").textContent = "Copied.";
      }, function (err) { document.getElementById("pem-status").textContent = err.message; });
    });
  }
  var pd = document.getElementById("pem-dialog");
  if (pd) {
    // Do not keep a key in the page after the dialog closes.
    pd.addEventListener("close", function () {
      // A close event can arrive late, after the dialog opened again.
      if (!pd.open) { document.getElementById("pem-text").textContent = ""; }
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.hasAttribute("data-confirm") && !form.querySelector('input[name="confirm"]')) {
      if (confirmSubmit(form)) { ev.preventDefault(); }
    }
  });

  // Live search: hide rows whose username does not match while typing;
  // the form still searches on the server when submitted.
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    var none = document.getElementById("filter-empty");
    if (!table) { return; }
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      var shown = 0;
      table.querySelectorAll("tbody tr[data-username]").forEach(function (tr) {
        var match = tr.getAttribute("data-username").toLowerCase().indexOf(q) !== -1;
        tr.hidden = !match;
        if (match) { shown++; }
      });
      if (none) { none.hidden = shown !== 0 || table.querySelectorAll("tbody tr[data-username]").length === 0; }
    });
  });
})();
