"""The coordinator's client API over HTTP, with the Python standard library alone.

Signs in with an API key (``Authorization: ApiKey rfk_...``), which an account issues for itself or the operator
issues for it (``POST /api/keys``); see docs/security.md. Every failure is a ``FarmError`` with one line.
"""

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 120


class FarmError(Exception):
    """A call to the coordinator failed; str() is one line that says why."""


def read_config():
    """The command line's settings file (coordinator, apiKey), as ``renderfarm`` reads it; {} when there is none."""
    path = os.environ.get("RENDERFARM_CONFIG") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"), "renderfarm", "config.json")
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
        return config if isinstance(config, dict) else {}
    except (OSError, ValueError):
        return {}


def read_api_key(path):
    """The API key in a file (its first line), else RENDERFARM_API_KEY, else the settings file's apiKey."""
    if path:
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as file:
                key = file.readline().strip()
        except OSError as error:
            raise FarmError(f"cannot read the API key file '{path}': {error.strerror}") from error
        if not key:
            raise FarmError(f"the API key file '{path}' is empty")
        return key
    key = os.environ.get("RENDERFARM_API_KEY") or read_config().get("apiKey")
    if not key:
        raise FarmError("no API key: choose a key file in the RenderFarm panel, or set RENDERFARM_API_KEY")
    return key


class Coordinator:
    """One coordinator, signed in as one account."""

    def __init__(self, url, api_key):
        url = (url or "").strip()
        if not url.startswith(("http://", "https://")):
            raise FarmError(f"'{url}' is not an http(s) URL of a coordinator, e.g. http://127.0.0.1:5080")
        self.url = url.rstrip("/") + "/"
        self._api_key = api_key

    def job_page(self, job_id):
        return f"{self.url}jobs/{job_id}"

    def upload_scene(self, path):
        name = urllib.parse.quote(os.path.basename(path))
        with open(path, "rb") as file:
            body = file.read()
        return self._call("POST", f"api/scenes?name={name}", body, "application/octet-stream")

    def submit(self, request):
        return self._call("POST", "api/jobs", json.dumps(request).encode("utf-8"), "application/json")

    def job(self, job_id):
        return self._call("GET", f"api/jobs/{job_id}")

    def cancel(self, job_id):
        return self._call("POST", f"api/jobs/{job_id}/cancel")

    def download_frame(self, link, path):
        """Downloads a verified frame to path unless a file with its SHA-256 is there; True when it downloaded."""
        if os.path.exists(path) and _sha256_file(path) == link["sha256"].lower():
            return False
        body = self._request("GET", link["url"], None, None)
        actual = hashlib.sha256(body).hexdigest()
        if actual != link["sha256"].lower():
            raise FarmError(f"frame {link['frame']} downloaded with SHA-256 {actual}, not the {link['sha256']} the coordinator listed")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        partial = path + ".partial"
        with open(partial, "wb") as file:
            file.write(body)
        os.replace(partial, path)
        return True

    def _call(self, method, path, body=None, content_type=None):
        answer = self._request(method, self.url + path, body, content_type)
        try:
            value = json.loads(answer.decode("utf-8"))
        except ValueError as error:
            raise FarmError(f"the coordinator's answer to {method} /{path.split('?')[0]} is not JSON") from error
        if value is None:
            raise FarmError(f"the coordinator answered null to {method} /{path.split('?')[0]}")
        return value

    def _request(self, method, url, body, content_type):
        # Only the coordinator's own API gets the key; a link elsewhere would be another party's.
        if not url.startswith(self.url):
            raise FarmError(f"the coordinator listed a link outside itself: {url}")
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Authorization", f"ApiKey {self._api_key}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("detail") or detail
            except (ValueError, AttributeError):
                pass
            raise FarmError(f"the coordinator answered {error.code} {error.reason}: {' '.join(str(detail).split())[:500]}") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise FarmError(f"cannot reach the coordinator at {self.url}: {reason}") from error


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
