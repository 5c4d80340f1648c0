// A point picked on a map fills the latitude and longitude fields (which stay the way to
// type it, with the keyboard or without JavaScript).
(function () {
  var element = document.getElementById("carte-point");
  if (!element || typeof L === "undefined") {
    return;
  }
  var lat = document.getElementById(element.dataset.lat);
  var lon = document.getElementById(element.dataset.lon);
  var map = L.map(element, { scrollWheelZoom: false, keyboard: false });
  map.attributionControl.setPrefix("Leaflet");
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, {
      maxZoom: 19,
      attribution: "Plan IGN — © IGN-F / Géoplateforme",
    }).addTo(map);
  }
  var read = function (input) {
    return parseFloat((input.value || "").replace(",", "."));
  };
  var marker = null;
  var show = function (point) {
    if (marker) {
      marker.setLatLng(point);
    } else {
      marker = L.circleMarker(point, { radius: 8, color: "#000091", fillOpacity: 0.7 }).addTo(map);
    }
  };
  var start = [read(lat), read(lon)];
  if (!isNaN(start[0]) && !isNaN(start[1])) {
    map.setView(start, 16);
    show(start);
  } else {
    map.setView([49.1193, 6.1757], 13); // Metz
  }
  map.on("click", function (event) {
    lat.value = event.latlng.lat.toFixed(6).replace(".", ",");
    lon.value = event.latlng.lng.toFixed(6).replace(".", ",");
    show(event.latlng);
  });
})();
