// sigillo ACS: at the end of a 3-D Secure challenge the page holds one form that takes
// the result (CRes) back to the merchant. This submits it at once; without script the
// holder presses "Continue".
(function () {
  'use strict';
  var form = document.getElementById('cres-form');
  if (form && form.getAttribute('data-autopost') === '1') {
    form.submit();
  }
})();
