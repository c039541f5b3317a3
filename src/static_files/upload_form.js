// serveur's upload form: drag and drop, several files, a progress bar per file. Without this
// script the form still posts as a plain HTML form. Served as a file of its own (no inline
// script, no inline handlers), so a Content-Security-Policy of script-src 'self' allows it.
"use strict";
(function () {
  var form = document.getElementById("serveur-upload");
  if (!form || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var input = form.querySelector("input[type=file]");
  var list = document.getElementById("serveur-upload-progress");
  var zone = document.getElementById("serveur-upload-zone");

  function send(file) {
    return new Promise(function (done) {
      var item = document.createElement("li");
      var bar = document.createElement("progress");
      bar.max = file.size || 1;
      bar.value = 0;
      var label = document.createElement("span");
      label.textContent = " " + file.name;
      item.appendChild(bar);
      item.appendChild(label);
      list.appendChild(item);
      var body = new FormData();
      body.append("file", file, file.name);
      var request = new XMLHttpRequest();
      request.open("POST", form.action || window.location.pathname);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          bar.max = event.total;
          bar.value = event.loaded;
        }
      });
      request.addEventListener("loadend", function () {
        var ok = request.status >= 200 && request.status < 300;
        bar.value = bar.max;
        label.textContent = " " + file.name + (ok ? " \u2713" : " \u2717 " + request.status + " " + request.statusText);
        done(ok);
      });
      request.send(body);
    });
  }

  function sendAll(files) {
    var pending = Array.prototype.map.call(files, send);
    Promise.all(pending).then(function (results) {
      if (results.every(Boolean)) {
        window.location.reload();
      }
    });
  }

  form.addEventListener("submit", function (event) {
    if (input.files.length > 0) {
      event.preventDefault();
      sendAll(input.files);
    }
  });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("serveur-drop");
    });
  });
  zone.addEventListener("dragleave", function () {
    zone.classList.remove("serveur-drop");
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("serveur-drop");
    if (event.dataTransfer && event.dataTransfer.files.length > 0) {
      sendAll(event.dataTransfer.files);
    }
  });
})();
