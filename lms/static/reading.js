// Tell the server, once a minute while the module page is in view, that it is still being
// read. Time spent counts only between two signs of reading close together, so a long read
// on one page view would otherwise count for nothing. The server measures; this only pings.
(function () {
  var form = document.querySelector("form[data-reading]");
  if (!form) return;
  var token = form.querySelector("input[name=_csrf_token]").value;
  var status = document.getElementById("seat-status");

  function ping() {
    if (document.visibilityState !== "visible") return;
    fetch(form.action, {
      method: "POST",
      headers: { "Accept": "application/json", "X-CSRFToken": token },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json();
    }).then(function (body) {
      if (!status || typeof body.seconds_left !== "number") return;
      status.dataset.secondsLeft = body.seconds_left;
      status.textContent = body.seconds_left > 0
        ? "About " + Math.ceil(body.seconds_left / 60) + " more minutes of reading to go. Time counts while this page is open."
        : "You have spent the reading time this module asks. Time counts while this page is open.";
    }).catch(function () { /* the next ping tries again */ });
  }

  setInterval(ping, 60000);
  document.addEventListener("visibilitychange", ping);
})();
