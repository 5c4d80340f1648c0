// The problems' map: a marker per located row of the results table; tiles when configured.
(function () {
  var element = document.getElementById("carte");
  if (!element || typeof L === "undefined") {
    return;
  }
  element.textContent = "";
  var map = L.map(element, { scrollWheelZoom: false });
  map.attributionControl.setPrefix("Leaflet");
  var tiles = element.dataset.tiles;
  if (tiles) {
    L.tileLayer(tiles, {
      maxZoom: 19,
      attribution: "Plan IGN — © IGN-F / Géoplateforme",
    }).addTo(map);
  }
  var points = [];
  document.querySelectorAll("#resultats tr[data-lat]").forEach(function (row) {
    var point = [parseFloat(row.dataset.lat), parseFloat(row.dataset.lon)];
    points.push(point);
    var link = document.createElement("a");
    link.href = row.dataset.href;
    link.textContent = row.dataset.label;
    L.circleMarker(point, { radius: 8, color: "#000091", fillOpacity: 0.7 })
      .bindPopup(link)
      .addTo(map);
  });
  if (points.length) {
    map.fitBounds(points, { padding: [30, 30], maxZoom: 16 });
  } else {
    map.setView([49.1193, 6.1757], 12); // Metz
  }
})();
