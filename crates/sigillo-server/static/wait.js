// sigillo: waits for the phone's answer without polling. The page names its event
// stream (`data-events`) and where to go once the answer is in (`data-next`); the
// server pushes the status over server-sent events when it changes, and this script
// moves on at the first final one. Without script the page's "Ho approvato" button
// does the same by hand.
(function () {
  'use strict';
  var wait = document.getElementById('wait');
  if (!wait || typeof window.EventSource !== 'function') {
    return;
  }
  var events = wait.getAttribute('data-events');
  var next = wait.getAttribute('data-next');
  if (!events || !next || next.charAt(0) !== '/' || next.charAt(1) === '/') {
    return;
  }
  var source = new EventSource(events);
  var done = false;
  wait.setAttribute('data-state', 'waiting');
  source.addEventListener('status', function (event) {
    var status = String(event.data || '').trim();
    if (done || status === 'pending' || status === '') {
      return;
    }
    done = true;
    source.close();
    wait.setAttribute('data-state', status);
    window.location.assign(next);
  });
  // A form sent from this page (a code typed as the fallback) decides by itself: the
  // stream must not race it to the next page.
  document.addEventListener('submit', function () {
    done = true;
    source.close();
  });
  source.addEventListener('error', function () {
    // A stream that was refused (the flow is over) is not retried; a dropped one is
    // reopened by EventSource itself.
    if (!done && source.readyState === EventSource.CLOSED) {
      wait.setAttribute('data-state', 'closed');
    }
  });
})();
