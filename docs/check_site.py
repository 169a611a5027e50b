"""Open the built site in headless Chromium and check that pages render with their images.

    python docs/check_site.py docs/_build/html [--screenshots DIR]

For the index, the API page of ``fastscore.estimate`` and one gallery page:

1. the HTML: each ``<img>`` points at a file of the build that is a PNG, JPEG
   or SVG and decodes whole (Pillow), and the index and the gallery page show
   at least one figure;
2. the browser: Chromium (Debian's ``chromium``) loads each page in a frame of
   a small checker page and reports, from the rendered DOM, the page's title,
   whether its main text is there (the function's signature, a figure), and
   for every image whether it loaded (``complete`` with a natural width > 0);
3. a screenshot of each page, which must not be blank (one colour).

Exits with status 1 naming what failed.
"""

import argparse
import html
import html.parser
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

#: page -> (what its rendered text must contain, the least number of images)
PAGES = {
    "index.html": ("fastscore", 1),
    "api/generated/fastscore.estimate.html": ("estimate_from_samples", 0),
    "auto_examples/estimators.html": ("measure-valued", 1),
}
#: the estimate page must show these of its numpydoc sections
SECTIONS = {"api/generated/fastscore.estimate.html": ["Parameters", "Returns", "Raises",
                                                      "Examples"]}


_unescape = html.unescape


class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs).get("src", ""))


def _kind(data):
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if b"<svg" in data[:2048]:
        return "svg"
    return None


def _undecodable(path):
    """Why Pillow cannot decode the whole image (a truncated file), or None."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(path) as im:
            im.load()
    except Exception as exc:  # noqa: BLE001 - any failure to decode is the finding
        return "%s: %s" % (type(exc).__name__, exc)
    return None


def check_html(root, page, least):
    errors = []
    parser = _Images()
    parser.feed((root / page).read_text(encoding="utf-8"))
    content = [s for s in parser.srcs if not s.startswith("data:")]
    for src in content:
        path = (root / page).parent / src.split("#")[0].split("?")[0]
        if not path.is_file():
            errors.append("%s: image %s: no such file" % (page, src))
        elif _kind(path.read_bytes()[:4096]) is None:
            errors.append("%s: image %s is not a PNG, JPEG or SVG" % (page, src))
        elif _kind(path.read_bytes()[:4096]) != "svg":
            problem = _undecodable(path)
            if problem:
                errors.append("%s: image %s does not decode: %s" % (page, src, problem))
    if len(content) < least:
        errors.append("%s: %d images, expected at least %d" % (page, len(content), least))
    return errors, len(content)


CHECKER = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>site check</title></head>
<body><pre id="result">pending</pre><script>
const pages = %s;
// What a page shows without waiting for decode(): the fallback when a page or
// one of its images does not settle within PAGE_MS (a slow or loaded machine).
function state(page, frame, decoded) {
  const doc = frame.contentDocument;
  if (!doc) { return {page, error: "no access to the page's document"}; }
  const imgs = Array.from(doc.images);
  return {page, title: doc.title, text: doc.body ? doc.body.innerText : "",
          images: imgs.map((img, i) => ({src: img.getAttribute("src"),
                                         loaded: (decoded ? decoded[i] : true) &&
                                                 img.complete && img.naturalWidth > 0,
                                         width: img.naturalWidth}))};
}
const PAGE_MS = %d;
function load(page) {
  let frame = null;
  const settled = new Promise((resolve) => {
    frame = document.createElement("iframe");
    frame.style.width = "1280px"; frame.style.height = "2000px";
    frame.onload = async () => {
      const doc = frame.contentDocument;
      if (!doc) { resolve({page, error: "no access to the page's document"}); return; }
      const imgs = Array.from(doc.images);
      for (const img of imgs) { img.loading = "eager"; }
      // decode() rejects an image that is broken or truncated, which may still
      // report a natural width from its header
      const decoded = await Promise.all(imgs.map((img) => img.decode().then(() => true,
                                                                           () => false)));
      resolve(state(page, frame, decoded));
    };
    frame.src = page;
    document.body.appendChild(frame);
  });
  const late = new Promise((resolve) => setTimeout(
    // (a frame that has not navigated yet holds a complete about:blank: not the page)
    () => resolve(frame && frame.contentDocument && frame.contentDocument.readyState === "complete"
                  && frame.contentDocument.URL.endsWith(page)
                  ? state(page, frame, null) : {page, error: "did not load within " + PAGE_MS + " ms"}),
    PAGE_MS));
  return Promise.race([settled, late]);
}
Promise.all(pages.map(load)).then((r) => {
  document.getElementById("result").textContent = JSON.stringify(r);
});
</script></body></html>
"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("Chromium is not installed (Debian: apt-get install chromium)")


def browser(exe, *args, timeout=120):
    profile = tempfile.mkdtemp(prefix="fastscore-chromium-")
    try:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + profile, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def check_browser(exe, root):
    errors = []
    checker = root / "_site_check.html"
    # A loaded machine can leave a page (or the whole run) unsettled when the
    # browser's time budget ends: try again with a longer one before failing.
    for attempt, budget in enumerate((20000, 60000, 120000)):
        checker.write_text(CHECKER % (json.dumps(list(PAGES)), budget // 2), encoding="utf-8")
        try:
            out = browser(exe, "--allow-file-access-from-files",
                          "--virtual-time-budget=%d" % budget, "--dump-dom", checker.as_uri(),
                          timeout=60 + budget // 500)
        except subprocess.TimeoutExpired:
            problem = "Chromium did not finish within %d s" % (60 + budget // 500)
            continue
        finally:
            checker.unlink()
        dom = out.stdout
        start, end = dom.find('<pre id="result">'), dom.find("</pre>")
        if start < 0 or end < 0:
            problem = "Chromium gave no result (exit status %d): %s" % (out.returncode,
                                                                        out.stderr[-2000:])
            continue
        text = _unescape(dom[start + len('<pre id="result">'):end])
        if text == "pending":
            problem = "Chromium did not finish loading the pages"
            continue
        results = json.loads(text)
        if any("error" in res for res in results) and attempt < 2:
            problem = "; ".join("%s: %s" % (r["page"], r["error"]) for r in results if "error" in r)
            continue
        break
    else:
        return [problem + " (3 tries, the last with a time budget of %d ms)" % budget]
    if attempt and not any("error" in res for res in results):
        print("the pages settled on try %d (%s before)" % (attempt + 1, problem))
    for res in results:
        page = res["page"]
        if "error" in res:
            errors.append("%s: %s" % (page, res["error"]))
            continue
        must, least = PAGES[page]
        if must not in res["text"]:
            errors.append("%s: the rendered text lacks %r" % (page, must))
        for section in SECTIONS.get(page, []):
            if section not in res["text"]:
                errors.append("%s: the rendered page lacks its %s section" % (page, section))
        bad = [img["src"] for img in res["images"] if not img["loaded"]]
        if bad:
            errors.append("%s: images that did not load: %s" % (page, ", ".join(bad)))
        shown = [img for img in res["images"] if img["loaded"]]
        if len(shown) < least:
            errors.append("%s: %d images loaded, expected at least %d" % (page, len(shown), least))
        print("%s: %r rendered, %d of %d images loaded" % (page, res["title"], len(shown),
                                                            len(res["images"])))
    return errors


def check_screenshots(exe, root, outdir):
    errors = []
    outdir.mkdir(parents=True, exist_ok=True)
    for page in PAGES:
        shot = outdir / (page.replace("/", "_").replace(".html", ".png"))
        out = browser(exe, "--window-size=1280,1600", "--screenshot=" + str(shot),
                      (root / page).as_uri())
        if not shot.is_file():
            errors.append("%s: no screenshot (exit status %d): %s"
                          % (page, out.returncode, out.stderr[-500:]))
            continue
        try:
            from PIL import Image
        except ImportError:
            print("%s: screenshot %s (Pillow missing: not inspected)" % (page, shot))
            continue
        with Image.open(shot) as im:
            colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
        n = len(colours) if colours is not None else 1 << 16
        if n < 16:
            errors.append("%s: the screenshot is blank (%d colours)" % (page, n))
        print("%s: screenshot %s, %s colours" % (page, shot, n if n < 1 << 16 else "> 65536"))
    return errors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", nargs="?", default="docs/_build/html")
    ap.add_argument("--screenshots", default=None,
                    help="folder for the screenshots (default: HTML/_screenshots)")
    args = ap.parse_args(argv)
    root = pathlib.Path(args.html).resolve()
    errors = []
    for page, (_, least) in PAGES.items():
        if not (root / page).is_file():
            errors.append("%s: not built" % page)
            continue
        errs, n = check_html(root, page, least)
        errors += errs
    if not errors:
        exe = chromium()
        errors += check_browser(exe, root)
        errors += check_screenshots(exe, root, pathlib.Path(args.screenshots)
                                    if args.screenshots else root / "_screenshots")
    for e in errors:
        print("FAIL", e)
    if errors:
        return 1
    print("the site renders: %d pages with their images" % len(PAGES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
