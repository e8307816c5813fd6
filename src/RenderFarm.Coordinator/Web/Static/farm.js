// RenderFarm web app: live updates over one server-sent event stream per page, drag and drop on the submit page,
// signing the sign-in message with a browser wallet when there is one. Pages work without it, only not live.
(function () {
  'use strict';

  function live() {
    var main = document.querySelector('[data-stream]');
    var region = document.getElementById('live');
    if (!main || !region || !window.EventSource) {
      return;
    }

    var source = new EventSource(main.getAttribute('data-stream'));
    // The control to focus again after an update: by its id, or a link by its address (task and frame links have no
    // id), so a keyboard user tabbing through a live page keeps their place.
    function keyOf(element) {
      if (!element || element === document.body || !region.contains(element)) {
        return null;
      }

      if (element.id) {
        return '#' + CSS.escape(element.id);
      }

      var href = element.getAttribute('href');
      return href ? 'a[href="' + CSS.escape(href) + '"]' : null;
    }

    source.addEventListener('live', function (event) {
      var focused = keyOf(document.activeElement);
      region.innerHTML = event.data;
      document.body.setAttribute('data-updated', String(Date.now()));
      if (focused) {
        var again = region.querySelector(focused);
        if (again) {
          again.focus();
        }
      }
    });
    source.addEventListener('end', function () {
      source.close();
    });
  }

  function dropZone() {
    var zone = document.getElementById('drop-zone');
    var input = document.getElementById('scene');
    if (!zone || !input) {
      return;
    }

    ['dragenter', 'dragover'].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add('over');
      });
    });
    ['dragleave', 'drop'].forEach(function (name) {
      zone.addEventListener(name, function () {
        zone.classList.remove('over');
      });
    });
    zone.addEventListener('drop', function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length > 0) {
        input.files = event.dataTransfer.files;
        var hint = document.getElementById('drop-hint');
        if (hint) {
          hint.textContent = Array.prototype.map.call(input.files, function (f) { return f.name; }).join(', ');
        }
      }
    });
  }

  function wallet() {
    var button = document.getElementById('wallet-sign');
    if (!button || !window.ethereum) {
      return;
    }

    button.hidden = false;
    button.addEventListener('click', function () {
      var form = document.getElementById('signature-form');
      var message = document.getElementById('challenge').value;
      var address = form.querySelector('input[name=address]').value;
      window.ethereum.request({ method: 'personal_sign', params: [message, address] }).then(function (signature) {
        document.getElementById('signature').value = signature;
        form.submit();
      });
    });
  }

  // A sign-in link from the command line carries an API key in its fragment, which never reaches the server's logs.
  function linkSignIn() {
    var input = document.getElementById('api_key');
    var match = /^#key=(rfk_[0-9a-f_]+)$/.exec(window.location.hash);
    if (!input || !match) {
      return;
    }

    history.replaceState(null, '', window.location.pathname + window.location.search);
    input.value = match[1];
    input.form.submit();
  }

  document.addEventListener('DOMContentLoaded', function () {
    linkSignIn();
    live();
    dropZone();
    wallet();
  });
})();
