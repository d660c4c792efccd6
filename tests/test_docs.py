"""The documentation website: `python tools/build_docs.py` builds a page per notebook into `_docs/`.

Two builds, each once per test run, into temporary folders: the real site from `nbs/`, and a small demo site
whose notebooks hold what the real ones may not yet (a figure, saved widget state, a page in a subfolder).
Pure-Python checks parse the HTML (pages, sidebar, links and anchors, images, local scripts only, the API
reference); the browser check loads every page in Debian's chromium through Playwright (run in a subprocess,
this file being its script) and looks at what a reader would see. Set DOCS_SCREENSHOTS=<folder> to keep a
screenshot of every page.
"""
import ast
import base64
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import build_docs  # noqa: E402



def _javascript_unavailable():
    "Why the site cannot get its local JavaScript on this machine (no npm and nothing cached), or ''."
    cached = all(p.is_file() for p in build_docs._npm_files(build_docs.default_cache()).values())
    return '' if cached or shutil.which('npm') else 'the docs build needs npm for its local JavaScript: apt-get install -y npm'


pytestmark = pytest.mark.skipif(bool(_javascript_unavailable()), reason=_javascript_unavailable() or 'npm present')
CHROMIUM = '/usr/bin/chromium'
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'
INSTALL_HINT = ('apt-get install -y chromium chromium-driver, and pip install playwright '
                '(never `playwright install`: the tests use Debian\'s chromium)')


# ---------------------------------------------------------------------------------------------------------
# Reading the built HTML
# ---------------------------------------------------------------------------------------------------------
class Page(HTMLParser):
    "What the checks need from one page: ids, links, images, scripts, stylesheets, sidebar, pager."
    def __init__(self, path):
        super().__init__()
        self.path, self.ids, self.links, self.imgs, self.scripts, self.styles = path, set(), [], [], [], []
        self.sidebar, self.pager, self.script_types, self._in = [], {}, [], []
        self.sidebar_sections, self._in_section = [], False  # the sidebar's section headings
        self.feed(path.read_text(encoding='utf-8'))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag in ('nav', 'aside'): self._in.append(a.get('class', ''))
        if tag == 'a' and 'href' in a:
            self.links.append(a['href'])
            if self._in and 'docs-sidebar' in self._in[-1]: self.sidebar.append((a['href'], 'aria-current' in a))
            if a.get('rel') in ('prev', 'next'): self.pager[a['rel']] = a['href']
        if tag == 'img': self.imgs.append(a.get('src', ''))
        if tag == 'script':
            if 'src' in a: self.scripts.append(a['src'])
            self.script_types.append(a.get('type', ''))
        if tag == 'link' and 'href' in a: self.styles.append(a['href'])
        if 'docs-sidebar-section' in a.get('class', '').split():
            self._in_section = True
            self.sidebar_sections.append('')

    def handle_data(self, data):
        if self._in_section: self.sidebar_sections[-1] += data

    def handle_endtag(self, tag):
        if tag in ('nav', 'aside') and self._in: self._in.pop()
        if tag == 'h2': self._in_section = False


def is_external(url): return bool(re.match(r'^([a-z][a-z0-9+.-]*:|//)', url))


def read_site(dest):
    return {p.relative_to(dest).as_posix(): Page(p) for p in sorted(dest.rglob('*.html'))}


def link_problems(dest, pages, skip_anchors=()):
    "Relative links, images, scripts and stylesheets that point at nothing; anchors that do not exist."
    problems = []
    for name, page in pages.items():
        for url in page.links + page.imgs + page.scripts + page.styles:
            if is_external(url):
                if url.startswith('data:image/'):
                    head = base64.b64decode(url.split(',', 1)[1][:24] + '==')[:4]
                    if head not in (b'\x89PNG', b'\xff\xd8\xff\xe0', b'\xff\xd8\xff\xe1', b'GIF8'): problems.append(f'{name}: bad image data {url[:40]}')
                continue
            path, _, anchor = url.partition('#')
            target = (page.path.parent/unquote(path)).resolve() if path else page.path
            if not target.is_file() or dest.resolve() not in target.parents:
                problems.append(f'{name}: {url} -> no such file in the site'); continue
            if anchor:
                other = pages.get(target.relative_to(dest.resolve()).as_posix())
                if other is not None and anchor not in other.ids and other.path.name not in skip_anchors: problems.append(f'{name}: {url} -> no id "{anchor}"')
    for name, page in pages.items():
        for url in page.scripts + page.styles:
            if is_external(url): problems.append(f'{name}: loads {url} from outside the site')
    return problems


# ---------------------------------------------------------------------------------------------------------
# The two builds
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The real site, from nbs/."
    dest = tmp_path_factory.mktemp('docs')/'_docs'
    _, errors = build_docs.build(dest=dest, strict=False, log=lambda *a: None)
    return SimpleNamespace(dest=dest, pages=read_site(dest), errors=errors, nbs=ROOT/'nbs')


def _png(w=12, h=8):
    from io import BytesIO
    from PIL import Image
    buf = BytesIO()
    Image.new('RGB', (w, h), (200, 60, 30)).save(buf, format='PNG')
    return base64.b64encode(buf.getvalue()).decode()


def _demo_notebooks(nbs):
    "A small project: an index, a chapter with a figure, widgets, math, an API entry, and a page in a subfolder."
    import ipywidgets as W
    slider, button = W.IntSlider(value=3, min=0, max=10, description='steps'), W.Button(description='Go')
    box = W.HBox([slider, button])
    view = box._repr_mimebundle_()
    mine, todo = [], [box]
    while todo:  # the widgets and the models they refer to (layouts, styles)
        w = todo.pop()
        if w in mine: continue
        mine.append(w)
        todo += [v for k in w.keys for v in (lambda x: x if isinstance(x, (list, tuple)) else [x])(getattr(w, k))
                 if isinstance(v, W.Widget)]
    state = W.Widget.get_manager_state(drop_defaults=True, widgets=mine)
    for w in mine: w.close()
    def md(s): return {'cell_type': 'markdown', 'metadata': {}, 'source': s}
    def code(s, outputs=()): return {'cell_type': 'code', 'metadata': {}, 'source': s, 'execution_count': 1, 'outputs': list(outputs)}
    def nb(cells, meta=None): return {'cells': cells, 'metadata': meta or {}, 'nbformat': 4, 'nbformat_minor': 5}
    chapter = nb([
        md('# Demo chapter\n> Everything a page must render'),
        code('#| default_exp demo'),
        code('#| export\ndef add_one(x:int, # the number\n           ): # one more\n    "Add one to `x`"\n    return x + 1'),
        md('## Outputs\nText, a figure, math $\\frac{a}{b}$ and $$\\sum_i x_i^2$$, a [subfolder page](extra/more.html#a-section) '
           'and the [same page by notebook name](extra/01_more.ipynb).'),
        code("print('hello')", [{'output_type': 'stream', 'name': 'stdout', 'text': 'hello\n'}]),
        code('show_png()', [{'output_type': 'display_data', 'metadata': {}, 'data': {'image/png': _png(), 'text/plain': '<Figure>'}}]),
        md('## Widgets'),
        code('box', [{'output_type': 'execute_result', 'execution_count': 1, 'metadata': {}, 'data': view}]),
        code('lost', [{'output_type': 'display_data', 'metadata': {},
                       'data': {WIDGET_VIEW: {'model_id': 'f' * 32, 'version_major': 2, 'version_minor': 0},
                                'text/plain': 'IntSlider(value=7)'}}]),
    ], {'widgets': {WIDGET_STATE: state}})
    index = nb([md('# demo\n> The demo site'), md('Start with the [chapter](chapter.html).')])
    more = nb([md('# More\n> A page one folder down'), md('## A section\nBack to the [index](../index.html#demo) '
                                                        'and a figure:'),
               code('x', [{'output_type': 'display_data', 'metadata': {}, 'data': {'image/png': _png(20, 10)}}])])
    (nbs/'extra').mkdir(parents=True)
    for path, book in [('index.ipynb', index), ('01_chapter.ipynb', chapter), ('extra/01_more.ipynb', more)]:
        (nbs/path).write_text(json.dumps(book, indent=1), encoding='utf-8')
    return [k for k in state['state'] if state['state'][k]['model_name'] in ('IntSliderModel', 'ButtonModel', 'HBoxModel')]


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    "A site built from generated notebooks, in a project folder of its own (a copy of settings.ini)."
    project = tmp_path_factory.mktemp('demo')
    shutil.copy2(ROOT/'settings.ini', project/'settings.ini')
    models = _demo_notebooks(project/'nbs')
    dest = project/'_docs'
    build_docs.build(nbs_path=project/'nbs', dest=dest, use_cache=False, log=lambda *a: None)
    return SimpleNamespace(dest=dest, pages=read_site(dest), models=models, nbs=project/'nbs')


# ---------------------------------------------------------------------------------------------------------
# Checks without a browser
# ---------------------------------------------------------------------------------------------------------
def test_a_page_per_notebook_in_sidebar_order(site, demo):
    "The real site's sidebar has the sections and order of nbs/sidebar.yml; the demo, without one, file order."
    import yaml
    contents = yaml.safe_load((site.nbs/'sidebar.yml').read_text(encoding='utf-8'))['website']['sidebar']['contents']
    sections = [e['section'] for e in contents if isinstance(e, dict) and 'section' in e]
    assert len(sections) >= 3 and any(s.startswith('Appendix') for s in sections)
    groups = build_docs.sidebar_groups(site.nbs, build_docs.find_notebooks(site.nbs))
    assert [title for title, _ in groups if title] == sections, 'nbs/sidebar.yml lists every notebook (test_sync)'
    check_sidebar_and_pager(site, [nb for _, members in groups for nb in members], sections)
    check_sidebar_and_pager(demo, build_docs.find_notebooks(demo.nbs), [])


def check_sidebar_and_pager(s, notebooks, sections):
    "Every page: the sidebar's headings `sections`, its links `notebooks` in order, the page marked, prev/next."
    assert notebooks[0].name == 'index.ipynb'
    expected = [build_docs.page_name(nb, s.nbs) for nb in notebooks]
    assert sorted(expected) == sorted(s.pages), 'one page per notebook, nothing else'
    for i, name in enumerate(expected):
        page = s.pages[name]
        def site_path(href): return (page.path.parent/href).resolve().relative_to(s.dest.resolve()).as_posix()
        assert page.sidebar_sections == sections, f'{name}: the sidebar shows the section headings'
        assert [site_path(href) for href, _ in page.sidebar] == expected, f'{name}: the sidebar lists every page in order'
        assert [site_path(href) for href, current in page.sidebar if current] == [name], f'{name}: the sidebar marks the page'
        pager = {rel: site_path(href) for rel, href in page.pager.items()}
        assert pager.get('prev') == (expected[i-1] if i else None), f'{name}: previous link'
        assert pager.get('next') == (expected[i+1] if i+1 < len(expected) else None), f'{name}: next link'


def test_sidebar_groups_read_nbdev_format(tmp_path):
    "Sections in order; a notebook the file leaves out goes last; an entry that names no notebook is an error."
    for name in ['index.ipynb', '01_a.ipynb', '02_b.ipynb', '03_c.ipynb']: (tmp_path/name).write_text('{}')
    notebooks = build_docs.find_notebooks(tmp_path)
    (tmp_path/'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n      - index.ipynb\n'
                                        '      - section: "Appendix: B"\n        contents:\n          - 02_b.ipynb\n'
                                        '      - section: A\n        contents: [01_a.ipynb]\n')
    groups = [(title, [nb.name for nb in members]) for title, members in build_docs.sidebar_groups(tmp_path, notebooks)]
    assert groups == [(None, ['index.ipynb']), ('Appendix: B', ['02_b.ipynb']), ('A', ['01_a.ipynb']),
                      ('Other pages', ['03_c.ipynb'])]
    (tmp_path/'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n      - index.ipynb\n      - 09_gone.ipynb\n')
    with pytest.raises(build_docs.DocsError, match='09_gone'): build_docs.sidebar_groups(tmp_path, notebooks)


def test_nbdev_processes_every_notebook(site):
    "nbdev (and so nbdev_docs) executes export, import and show_doc cells; none of them may fail."
    if site.errors:
        pytest.fail('nbdev could not process these notebooks, so their pages lack the API reference (keep imports '
                    'in cells of their own):\n' + '\n'.join(f'{nb.name}: {e}' for nb, e in site.errors.items()), pytrace=False)


def test_links_images_and_scripts_resolve(site, demo):
    # pages nbdev could not process lack their API entries: test_nbdev_processes_every_notebook reports them
    incomplete = {build_docs.page_name(nb, site.nbs) for nb in site.errors}
    for s in (site, demo):
        problems = link_problems(s.dest, s.pages, incomplete if s is site else ())
        assert not problems, '\n'.join(problems)


def _exported_names(nb_path):
    """Public functions and classes of a notebook's `#| export` cells (a `@patch` method as `Class.method`), and
    every `show_doc(X)` the notebook writes itself: the API reference must show each."""
    from nbdev.doclinks import patch_name
    names = []
    for cell in json.loads(nb_path.read_text(encoding='utf-8'))['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] != 'code' or re.search(r'^\s*#\|\s*hide\s*$', src, re.M): continue
        names += re.findall(r'^show_doc\(\s*([\w.]+)\s*[,)]', src, re.M)
        if not re.search(r'^\s*#\|\s*exports?\s*$', src, re.M): continue
        try: tree = ast.parse(re.sub(r'^\s*[%!].*$', '', src, flags=re.M))
        except SyntaxError: continue
        names += [patch_name(n) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and not n.name.startswith('_')]
    return names



def test_api_reference_from_docstrings(site, demo):
    missing = []
    for s in (site, demo):
        for nb in build_docs.find_notebooks(s.nbs):
            if nb in getattr(s, 'errors', {}): continue  # reported by test_nbdev_processes_every_notebook
            page = s.pages[build_docs.page_name(nb, s.nbs)]
            missing += [f'{nb.name}: {n}' for n in _exported_names(nb) if n.lower() not in page.ids]
    assert not missing, 'no show_doc entry (an id on the page) for:\n' + '\n'.join(missing)
    text = (demo.dest/'chapter.html').read_text()
    assert 'Add one to <code>x</code>' in text and 'the number' in text, 'docstring and docments shown'


def test_widget_javascript_is_local_and_only_where_needed(site, demo):
    for s in (site, demo):
        for name, page in s.pages.items():
            views = WIDGET_VIEW in page.script_types
            assert views == any(src.endswith('_static/widgets/embed-amd.js') for src in page.scripts), name
            assert views == any(src.endswith('_static/require.js') for src in page.scripts), name
            assert views == (WIDGET_STATE in page.script_types), name
            if views:  # every view's model is in the saved state
                text = page.path.read_text(encoding='utf-8')
                state = json.loads(re.search(rf'<script type="{re.escape(WIDGET_STATE)}">(.*?)</script>', text, re.S).group(1))
                for m in re.finditer(rf'<script type="{re.escape(WIDGET_VIEW)}">(.*?)</script>', text, re.S):
                    assert json.loads(m.group(1))['model_id'] in state['state'], f'{name}: view without state'


def test_demo_page_renders_everything(demo):
    chapter = demo.pages['chapter.html']
    text = chapter.path.read_text(encoding='utf-8')
    assert [s for s in chapter.imgs if s.startswith('data:image/png;base64,')], 'figure embedded'
    assert 'hello' in text and 'Everything a page must render' in text
    assert all(m in text for m in demo.models), 'widget state saved in the page'
    assert 'IntSlider(value=7)' in text, 'a widget without saved state falls back to its text'
    assert '_static/mathjax/tex-chtml.js' in ''.join(chapter.scripts) and '$\\frac{a}{b}$' in text
    assert 'extra/more.html' in chapter.links, 'a link to a notebook points at its page'
    more = demo.pages['extra/more.html']
    assert '../_static/site.css' in more.styles and '../index.html' in [h for h, _ in more.sidebar]
    assert not [s for s in demo.pages['index.html'].scripts], 'a page without widgets or math loads no script'


# ---------------------------------------------------------------------------------------------------------
# In a real browser
# ---------------------------------------------------------------------------------------------------------
def _browser_missing():
    if not Path(CHROMIUM).exists(): return f'{CHROMIUM} not found: {INSTALL_HINT}'
    try: import playwright.sync_api  # noqa: F401
    except ImportError: return f'playwright not installed: {INSTALL_HINT}'


def test_every_page_in_a_browser(site, demo):
    if why := _browser_missing(): pytest.skip(why)
    cmd = [sys.executable, __file__, str(site.dest), str(demo.dest)]
    incomplete = ','.join(build_docs.page_name(nb, site.nbs) for nb in site.errors)  # see test_nbdev_processes_...
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, 'DOCS_SKIP_ANCHORS': incomplete})
    assert res.returncode == 0 and res.stdout.strip(), f'browser driver failed:\n{res.stdout}\n{res.stderr[-4000:]}'
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report['pages'] == len(site.pages) + len(demo.pages)
    assert report['widgets'] >= 1, 'the demo page shows its widgets'
    assert report['math'] >= 1, 'MathJax typeset the demo page'
    assert not report['problems'], '\n'.join(report['problems'])


FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

WAIT_WIDGETS = """() => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
    .every(s => s.parentElement.querySelector('.widget-subarea .jupyter-widgets'))"""
WAIT_MATH = """async () => { if (!document.getElementById('MathJax-script')) return 0;
    for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
        await new Promise(r => setTimeout(r, 50));
    await MathJax.startup.promise;
    return document.querySelectorAll('mjx-container').length; }"""
INSPECT = """async () => {
    const imgs = [...document.images];
    await Promise.all(imgs.map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
    return {broken: imgs.filter(i => !i.naturalWidth).map(i => i.src.slice(0, 80)),
            ids: [...document.querySelectorAll('[id]')].map(e => e.id),
            links: [...document.querySelectorAll('a[href]')].map(a => a.href),
            text: document.body.innerText,
            merrors: document.querySelectorAll('mjx-merror').length,
            widgets: document.querySelectorAll('.widget-subarea .jupyter-widgets').length}; }"""


def browse(sites, shots=None, skip_anchors=()):
    "Load every page of every site over HTTP in chromium; returns a report (run as a script, in its own process)."
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    from playwright.sync_api import sync_playwright
    problems, n_pages, n_widgets, n_math = [], 0, 0, 0
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for site in map(Path, sites):
            server = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            base = f'http://127.0.0.1:{server.server_address[1]}/'
            context = browser.new_context(viewport={'width': 1400, 'height': 900})
            page, current, seen = context.new_page(), [''], {}
            def route(r):
                if r.request.url.startswith((base, 'data:')): return r.continue_()
                problems.append(f'{current[0]}: requested {r.request.url[:100]} outside the site'); r.abort()
            context.route('**/*', route)
            page.on('console', lambda m: m.type == 'error' and problems.append(f'{current[0]}: console error: {m.text[:300]}'))
            page.on('pageerror', lambda e: problems.append(f'{current[0]}: page error: {e}'))
            page.on('requestfailed', lambda r: problems.append(f'{current[0]}: failed to load {r.url[:100]}: {r.failure}'))
            page.on('response', lambda r: r.status >= 400 and problems.append(f'{current[0]}: HTTP {r.status} for {r.url[:100]}'))
            for html in sorted(site.rglob('*.html')):
                name = current[0] = html.relative_to(site).as_posix()
                page.goto(base + name, wait_until='load')
                if page.query_selector(f'script[type="{WIDGET_VIEW}"]'):
                    try: page.wait_for_function(WAIT_WIDGETS, timeout=20000)
                    except Exception: problems.append(f'{name}: widgets not rendered after 20 s')
                n_math += page.evaluate(WAIT_MATH) > 0
                page.wait_for_timeout(300)  # grace period for late widget errors
                info = page.evaluate(INSPECT)
                problems += [f'{name}: image not shown: {src}' for src in info['broken']]
                if 'Error displaying widget' in info['text'] or 'Loading widget' in info['text']:
                    problems.append(f'{name}: a widget failed to display')
                if info['merrors']: problems.append(f'{name}: {info["merrors"]} TeX errors')
                n_widgets += info['widgets']
                seen[base + name] = (info['ids'], info['links'])
                if shots: page.screenshot(path=str(Path(shots)/(Path(site).parent.name + '-' + name.replace('/', '-') + '.png')), full_page=True)
                n_pages += 1
            for name, (_, links) in seen.items():
                for url in links:
                    if not url.startswith(base): continue
                    u = urlsplit(url)
                    target, short = f'{u.scheme}://{u.netloc}{u.path}', url[len(base):]
                    if target in seen:
                        if u.fragment and unquote(u.fragment) not in seen[target][0] and u.path.lstrip('/') not in skip_anchors:
                            problems.append(f'{name[len(base):]}: no anchor for {short}')
                    elif not (site/unquote(u.path.lstrip('/'))).is_file(): problems.append(f'{name[len(base):]}: broken link {short}')
            context.close()
            server.shutdown()
        browser.close()
    return {'pages': n_pages, 'widgets': n_widgets, 'math': n_math, 'problems': sorted(set(problems))}


if __name__ == '__main__':
    skip = [p for p in os.environ.get('DOCS_SKIP_ANCHORS', '').split(',') if p]
    print(json.dumps(browse(sys.argv[1:], os.environ.get('DOCS_SCREENSHOTS'), skip)))
