// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Searchable kelurahan list: a filter box above the <select>.
  document.querySelectorAll("select[data-searchable]").forEach(function (select) {
    var box = document.createElement("input");
    box.type = "search";
    box.placeholder = select.dataset.searchable ||
      (document.documentElement.lang === "en" ? "Search kelurahan…" : "Cari kelurahan…");
    box.setAttribute("aria-label", box.placeholder);
    box.className = "search";
    select.parentNode.insertBefore(box, select);
    // Compared as the site's searches compare (domain/search.py): letters and digits only, so that
    // "pondok gede" finds Pondokgede and "jati sampurna" Jatisampurna.
    var key = function (text) {
      return text.toLowerCase().replace(/[^a-z0-9]/g, "").replace(/oe/g, "u").replace(/dj/g, "j")
        .replace(/tj/g, "c").replace(/ch/g, "kh").replace(/j/g, "y");
    };
    box.addEventListener("input", function () {
      var q = key(box.value);
      select.querySelectorAll("optgroup").forEach(function (group) {
        var any = false;
        group.querySelectorAll("option").forEach(function (o) {
          var hit = !q || key(o.text).indexOf(q) >= 0 || key(group.label).indexOf(q) >= 0;
          o.hidden = !hit;
          any = any || hit;
        });
        group.hidden = !any;
      });
    });
  });

  // The language switch keeps what the page was asked for (a search, a filter, a page number). The
  // server writes the link without the reader's query (a cached page must not carry one reader's query to
  // others), only with what a page answering a form names itself (the carry-over it was for).
  document.querySelectorAll("a.lang[hreflang]").forEach(function (link) {
    var params = new URLSearchParams(location.search);
    new URLSearchParams(link.search).forEach(function (value, name) { params.set(name, value); });
    params.set("lang", link.getAttribute("hreflang"));
    link.search = "?" + params.toString();
    var warning = link.getAttribute("data-leaves-secret");
    if (warning) link.addEventListener("click", function (e) { if (!window.confirm(warning)) e.preventDefault(); });
  });

  // After a failed submission, a screen reader and the keyboard start at the list of what to correct.
  var errors = document.getElementById("errors");
  if (errors) errors.focus();

  // A proposal being typed is kept in this browser until it is sent: a form that expired (left open for
  // hours, the browser restarted, its cookie gone) or a tab closed by mistake no longer loses a quarter of
  // an hour's writing. Never the proposer's name, number, e-mail or secret (a kelurahan office's shared
  // computer), nor photos, and for a day at most. A fresh form of the same RKPD year takes it back (the
  // priority programs are numbered per year); a carry-over form keeps none (restored into a plain form it
  // would lose its link to the earlier proposal). The code page forgets every draft of the form.
  var DRAFT_DAY = 24 * 3600 * 1000;
  var PRIVATE = /^(proposer_|revision_secret$|_csrf_token$|idempotency_key$|tanpa_lanjutan$|year$)/;
  var store = null;
  try { store = window.localStorage; } catch (e) { store = null; }
  var sent = document.querySelector("[data-draft-done]");
  if (sent && store) {
    var prefix = "draft:" + sent.getAttribute("data-draft-done");
    Object.keys(store).forEach(function (k) { if (k.indexOf(prefix) === 0) store.removeItem(k); });
  }
  document.querySelectorAll("form[data-draft]").forEach(function (form) {
    if (!store) return;
    var key = "draft:" + form.getAttribute("data-draft");
    var kept = function () {
      return Array.prototype.filter.call(form.elements, function (el) {
        return el.name && !PRIVATE.test(el.name) && ["file", "hidden", "submit", "button"].indexOf(el.type) < 0;
      });
    };
    var save = function () {
      var values = {};
      kept().forEach(function (el) {
        if (el.type === "radio" || el.type === "checkbox") { if (el.checked) values[el.name] = el.value; }
        else values[el.name] = el.value;
      });
      try { store.setItem(key, JSON.stringify({ at: Date.now(), values: values })); } catch (e) { /* full */ }
    };
    var draft = null;
    try { draft = JSON.parse(store.getItem(key) || "null"); } catch (e) { draft = null; }
    if (draft && Date.now() - draft.at > DRAFT_DAY) { store.removeItem(key); draft = null; }
    var typed = draft && Object.keys(draft.values).some(function (n) { return draft.values[n] && n !== "kelurahan"; });
    if (typed && form.hasAttribute("data-draft-fresh")) {
      kept().forEach(function (el) {
        if (!(el.name in draft.values)) return;
        if (el.type === "radio" || el.type === "checkbox") el.checked = draft.values[el.name] === el.value;
        else el.value = draft.values[el.name];
      });
      var en = document.documentElement.lang === "en";
      var note = document.createElement("p");
      note.className = "notice";
      note.id = "draft-restored";
      note.setAttribute("role", "status");
      note.textContent = en ? "What you typed before and did not send has been restored from this browser. " :
        "Isian yang sebelumnya Anda ketik dan belum terkirim dipulihkan dari peramban ini. ";
      var clear = document.createElement("button");
      clear.type = "button";
      clear.textContent = en ? "Start empty" : "Kosongkan formulir";
      clear.addEventListener("click", function () { store.removeItem(key); location.reload(); });
      note.appendChild(clear);
      form.parentNode.insertBefore(note, form);
    }
    form.addEventListener("input", save);
    form.addEventListener("change", save);
  });

  // "Pakai lokasi saya": fill latitude/longitude from the browser.
  var button = document.getElementById("use-location");
  if (button && navigator.geolocation) {
    var status = document.getElementById("location-status");
    var en = document.documentElement.lang === "en";
    button.addEventListener("click", function () {
      status.textContent = en ? "Finding your location…" : "Mencari lokasi…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById("latitude").value = pos.coords.latitude.toFixed(6);
        document.getElementById("longitude").value = pos.coords.longitude.toFixed(6);
        status.textContent = en ? "Location filled in." : "Lokasi terisi.";
      }, function () {
        status.textContent = en ? "Location not available; type it or leave it empty." :
          "Lokasi tidak tersedia; ketik sendiri atau kosongkan.";
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }

  // Back after a form was sent, and the same form sent again: the page was fetched anew (it is never
  // kept), with a new key, and the second sending made a second proposal. This tab keeps, by a digest of
  // what was sent, the key it went with: the same content sent again goes with that key, and the server
  // answers with what the first sending made. A digest, not the content: a proposer's name and number are
  // not kept in the browser.
  var sentKeys = null;
  try { sentKeys = window.sessionStorage; } catch (e) { sentKeys = null; }
  var digest = function (text) {  // cyrb53: a 53-bit string hash, enough to tell sendings apart
    var h1 = 0xdeadbeef, h2 = 0x41c6ce57;
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
  };
  var sentAs = function (form) {
    var parts = [form.getAttribute("action") || ""];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "idempotency_key" || el.name === "_csrf_token") return;
      if (["submit", "button"].indexOf(el.type) >= 0) return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      if (el.type === "file") {
        Array.prototype.forEach.call(el.files || [], function (f) { parts.push(el.name + "=" + f.name + ":" + f.size); });
        return;
      }
      parts.push(el.name + "=" + el.value);
    });
    return "sent:" + digest(parts.join("\u0000"));
  };

  // A second tap while the first submission is on its way does nothing (the server would answer
  // with the same proposal anyway); after 20 s the button works again, for a slow network.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var key = form.querySelector("input[name=idempotency_key]");
      if (key && key.value && sentKeys) {
        var id = sentAs(form);
        var first = sentKeys.getItem(id);
        if (first) key.value = first;
        else try { sentKeys.setItem(id, key.value); } catch (e) { /* full: sent with its own key */ }
      }
      var b = form.querySelector("button[type=submit]");
      if (!b) return;
      setTimeout(function () { b.disabled = true; }, 0);
      setTimeout(function () { b.disabled = false; }, 20000);
    });
  });

  // The projector screen: live updates by Server-Sent Events (without JavaScript it refreshes itself
  // every 10 s). Here, not inline in the page: the Content-Security-Policy allows scripts from /static only.
  var ranking = document.querySelector("body.screen #ranking tbody");
  if (ranking && window.EventSource) {
    var rupiah = function (n) { return "Rp " + String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "."); };
    var source = new EventSource(location.pathname + "/aliran");
    source.onmessage = function (m) {
      var s = JSON.parse(m.data);
      document.getElementById("spent").textContent = rupiah(s.spent);
      document.getElementById("ballots").textContent = s.ballots;
      document.getElementById("status").textContent = s.status_text;
      document.getElementById("fill").setAttribute("width", (100 * s.spent / s.ceiling).toFixed(1));
      ranking.textContent = "";
      s.rows.forEach(function (r) {
        var tr = document.createElement("tr");
        tr.className = r.selected ? "in" : "out";
        [r.rank, r.title, r.score, rupiah(r.cost)].forEach(function (v, i) {
          var td = document.createElement("td");
          td.textContent = v;
          if (i === 3) td.className = "num";
          tr.appendChild(td);
        });
        ranking.appendChild(tr);
      });
      if (s.status === "closed") source.close();
    };
  }
})();
