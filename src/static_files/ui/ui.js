// serveur's rich directory page (--ui): what needs a script, added to a page that is complete
// without it. The filter box (shown only when this runs) hides the rows whose name does not
// contain its text; with --allow-delete each row gets a delete button that asks for
// confirmation, then sends DELETE to the entry's own URL (what Upload answers), and removes
// the row. Served as a file of its own, so the page's CSP (script-src 'self') allows it.
"use strict";
(function () {
  var table = document.getElementById("listing");
  if (!table) {
    return;
  }
  var rows = Array.prototype.filter.call(table.tBodies[0].rows, function (row) {
    return !row.classList.contains("up") && !row.classList.contains("empty");
  });

  var filter = document.getElementById("filter");
  if (filter) {
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var needle = filter.value.toLowerCase();
      rows.forEach(function (row) {
        var name = row.cells[0].textContent.toLowerCase();
        row.hidden = needle !== "" && name.indexOf(needle) === -1;
      });
    });
    // "/" focuses the filter, as on many file listings, unless typing somewhere already.
    document.addEventListener("keydown", function (event) {
      var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        filter.focus();
      }
    });
  }

  if (table.hasAttribute("data-delete") && window.fetch) {
    var header = document.createElement("th");
    header.className = "x";
    var label = document.createElement("span");
    label.className = "sr";
    label.textContent = "Actions";
    header.appendChild(label);
    table.tHead.rows[0].appendChild(header);
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var cell = row.insertCell(-1);
      cell.className = "x";
      if (rows.indexOf(row) === -1) {
        return;
      }
      var link = row.cells[0].querySelector("a");
      var name = link.textContent;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "del";
      button.textContent = "Delete";
      button.setAttribute("aria-label", "Delete " + name);
      button.addEventListener("click", function () {
        if (!window.confirm("Delete " + name + "?")) {
          return;
        }
        button.disabled = true;
        fetch(link.href, { method: "DELETE" }).then(function (response) {
          if (response.ok) {
            row.remove();
          } else {
            button.disabled = false;
            window.alert("Could not delete " + name + ": " + response.status + " " + response.statusText);
          }
        }, function (error) {
          button.disabled = false;
          window.alert("Could not delete " + name + ": " + error);
        });
      });
      cell.appendChild(button);
    });
  }
})();
