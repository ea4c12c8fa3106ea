// Click a header (the last header row) of a table.sortable to sort its rows (numbers by data-value, else by text); click again to reverse.
document.querySelectorAll("table.sortable").forEach(function (table) {
  var head = table.tHead.rows[table.tHead.rows.length - 1], heads = head.querySelectorAll("th");  // last row: one per column
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = !th.classList.contains("asc");
      heads.forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(asc ? "asc" : "desc");
      function key(row) {
        var cell = row.cells[col]; if (!cell) return "";
        var v = cell.getAttribute("data-value");
        if (v !== null && v !== "" && !isNaN(parseFloat(v))) return parseFloat(v);
        return cell.textContent.trim().toLowerCase();
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x === "number" && typeof y !== "number") return -1;
        if (typeof y === "number" && typeof x !== "number") return 1;
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
