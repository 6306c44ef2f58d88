// pow.js: on the checkout's "one more step" page, pays the hoarding
// guard's proof of work in a same-origin Web Worker (pow-worker.js) with a
// progress line, then sends the order again. Without JavaScript the page
// offers a form that succeeds after a wait instead.
'use strict';
(function () {
  var box = document.getElementById('pow-js');
  var form = document.getElementById('pow-form');
  var line = document.getElementById('pow-progress');
  if (!box || !form || !line || typeof Worker === 'undefined') {
    return;
  }
  box.hidden = false;
  var worker;
  try {
    worker = new Worker(form.getAttribute('data-worker'));
  } catch (e) {
    box.hidden = true;
    return;
  }
  var working = line.getAttribute('data-working') || '%d';
  worker.onmessage = function (ev) {
    var m = ev.data || {};
    if (typeof m.nonce === 'string' || typeof m.nonce === 'number') {
      document.getElementById('pow-nonce').value = String(m.nonce);
      line.textContent = line.getAttribute('data-done');
      worker.terminate();
      form.submit();
    } else if (typeof m.progress === 'number') {
      line.textContent = working.replace('%d', String(m.progress));
    }
  };
  worker.postMessage({ challenge: form.getAttribute('data-challenge'), bits: Number(form.getAttribute('data-bits')) });
})();
