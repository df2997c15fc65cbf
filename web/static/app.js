// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Searchable kelurahan list: a filter box above the <select>.
  document.querySelectorAll("select[data-searchable]").forEach(function (select) {
    var box = document.createElement("input");
    box.type = "search";
    box.placeholder = document.documentElement.lang === "en" ? "Search kelurahan…" : "Cari kelurahan…";
    box.setAttribute("aria-label", box.placeholder);
    box.className = "search";
    select.parentNode.insertBefore(box, select);
    box.addEventListener("input", function () {
      var q = box.value.trim().toLowerCase();
      select.querySelectorAll("optgroup").forEach(function (group) {
        var any = false;
        group.querySelectorAll("option").forEach(function (o) {
          var hit = !q || o.text.toLowerCase().indexOf(q) >= 0 || group.label.toLowerCase().indexOf(q) >= 0;
          o.hidden = !hit;
          any = any || hit;
        });
        group.hidden = !any;
      });
    });
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

  // A second tap while the first submission is on its way does nothing (the server would answer
  // with the same proposal anyway); after 20 s the button works again, for a slow network.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var b = form.querySelector("button[type=submit]");
      if (!b) return;
      setTimeout(function () { b.disabled = true; }, 0);
      setTimeout(function () { b.disabled = false; }, 20000);
    });
  });
})();
