// Keep the <details> sections a reader opened open across the periodic refresh, which
// replaces the fragment (events: https://htmx.org/events/). A file, not inline script, so
// the page's Content-Security-Policy needs no 'unsafe-inline'.
(function () {
  "use strict";
  var open = [];
  document.addEventListener("htmx:beforeSwap", function () {
    open = Array.prototype.map.call(
      document.querySelectorAll("#live details[open][id]"),
      function (d) { return d.id; }
    );
  });
  document.addEventListener("htmx:afterSwap", function () {
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) { d.open = true; }
    });
  });
})();
