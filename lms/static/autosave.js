// Save quiz answers as the learner goes, so a lost connection loses nothing.
// The form works without this script: "Save and finish later" and "Submit" post normally.
(function () {
  var form = document.querySelector("form[data-autosave]");
  if (!form) return;
  var status = document.getElementById("save-status");
  var token = form.querySelector("input[name=_csrf_token]").value;
  var pending = null;

  function save() {
    var data = new FormData(form);
    data.delete("_csrf_token");
    fetch(form.dataset.autosave, {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { "Accept": "application/json", "X-CSRFToken": token },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || "Not saved");
        status.textContent = "Answers saved at " + new Date().toLocaleTimeString() + ".";
      });
    }).catch(function (error) {
      status.textContent = "Not saved: " + error.message + " Your answers are still on this page; try again.";
    });
  }

  form.addEventListener("change", function () {
    clearTimeout(pending);
    pending = setTimeout(save, 300);
  });
})();
