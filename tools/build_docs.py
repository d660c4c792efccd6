"""Build the documentation website from the notebooks into `_docs/`, without Quarto.

Where Quarto is installed, `nbdev_docs` builds the site with the top-level `_quarto.yml`. Quarto cannot be
installed on every machine, so this script does the same job with what installs from PyPI and npm:

1. nbdev's own processing step, the one `nbdev_docs` and `nbdev.serve.proc_nbs` run on every notebook
   (`nbdev.serve_drv.main` with `nbdev.processors.FilterDefaults`): front matter from the title cell,
   `show_doc` output for every exported symbol (the API reference), export and hide cells removed.
   It executes only export, import and show_doc cells, never training; outputs saved in the notebooks are
   kept as they are (a notebook without outputs renders without them).
2. nbconvert's HTMLExporter with the template in `tools/docs_assets/templates/gan_nb_docs`: a sidebar with
   the groups and order of `nbs/sidebar.yml` (the file Quarto reads; without one, every page in file order,
   index first), prev/next links in that order, a table of contents, figures embedded as data URIs, widgets
   rendered from the widget state saved in the notebook.
3. Every script and stylesheet is local: require.js, the @jupyter-widgets/html-manager embed bundle and
   MathJax come from an `npm install` into a cache folder (outside the repository; `--cache` or
   `$GAN_NB_DOCS_CACHE`), and are copied into `_docs/_static/` only when some page needs them.

Run from anywhere: `python tools/build_docs.py` (writes `_docs/`; `--dest DIR` to write elsewhere).
"""
import argparse
import html
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).resolve().parent/'docs_assets'
MARKER = '.built-by-build_docs'
NPM_PACKAGES = ['@jupyter-widgets/html-manager@^1', 'requirejs@2', 'mathjax@3']
WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'


class DocsError(Exception):
    "A problem the person building the docs can fix; its message says how."


# ---------------------------------------------------------------------------------------------------------
# Which notebooks, in which order, under which names
# ---------------------------------------------------------------------------------------------------------
def find_notebooks(nbs_path):
    "Notebooks the site is built from, index first, then in file order (as `nbdev_sidebar` orders them)."
    from nbdev.doclinks import nbglob
    files = [Path(f) for f in nbglob(nbs_path, file_glob='*.ipynb', skip_folder_re=r'(?:^[_.]|^www$)')]
    files = [f for f in files if '.ipynb_checkpoints' not in f.parts]
    def key(f):
        rel = f.relative_to(nbs_path)
        return (rel.parent.parts, '00' if f.stem == 'index' else f.name)
    return sorted(files, key=key)


def sidebar_groups(nbs_path, notebooks):
    """The sidebar as [(section title or None, [notebooks])], from `nbs_path/sidebar.yml` in nbdev 2's format
    (`website: sidebar: contents:`, entries a notebook path or a `section:` with its own `contents:`), the
    file Quarto builds its sidebar from. Without that file: one untitled group, `notebooks` in their order.
    Notebooks the file leaves out go last, under "Other pages"; an entry that names no notebook is an error."""
    import yaml
    nbs_path, yml = Path(nbs_path), Path(nbs_path)/'sidebar.yml'
    if not yml.exists(): return [(None, list(notebooks))]
    try: contents = yaml.safe_load(yml.read_text(encoding='utf-8'))['website']['sidebar']['contents']
    except (yaml.YAMLError, KeyError, TypeError) as e:
        raise DocsError(f'{yml}: expected `website: sidebar: contents:` as nbdev_sidebar writes it ({e!r})') from None
    by_path = {nb.relative_to(nbs_path).as_posix(): nb for nb in notebooks}
    groups, listed = [], []
    def walk(entries, title):
        group = (title, [])
        groups.append(group)
        for entry in entries or []:
            if isinstance(entry, dict) and 'section' in entry:
                if entry.get('href'): entry = dict(entry, contents=[entry['href'], *(entry.get('contents') or [])])
                walk(entry.get('contents'), str(entry['section']))
                group = (title, [])  # pages after a section, at this level, form a group of their own
                groups.append(group)
                continue
            path = str(entry.get('href', '') if isinstance(entry, dict) else entry).removeprefix('./')
            if path not in by_path: raise DocsError(f'{yml} lists {path!r}, which is not a notebook in {nbs_path}')
            if path in listed: raise DocsError(f'{yml} lists {path!r} twice')
            listed.append(path)
            group[1].append(by_path[path])
    walk(contents, None)
    rest = [nb for path, nb in by_path.items() if path not in listed]
    if rest: groups.append(('Other pages', rest))
    return [g for g in groups if g[1]]


def page_name(nb_path, nbs_path):
    "Where nbdev (and so Quarto) puts a notebook's page: `nbs/01_networks.ipynb` -> `networks.html`."
    from nbdev.doclinks import _nbpath2html
    return _nbpath2html(Path(nb_path).relative_to(nbs_path)).as_posix()


# ---------------------------------------------------------------------------------------------------------
# Step 1: nbdev's processing, one fresh process per notebook
# ---------------------------------------------------------------------------------------------------------
def _no_exec_procs():
    "nbdev's processors without the one that executes cells: the fallback for a notebook that fails."
    from nbdev.processors import FilterDefaults, exec_show_docs
    class FilterNoExec(FilterDefaults):
        def base_procs(self): return [p for p in super().base_procs() if p is not exec_show_docs]
    return FilterNoExec


def _process_one(src, dst, execute=True):
    "Run nbdev's docs processors on `src`, write the result to `dst` (runs in a child process)."
    os.environ.setdefault('OMP_NUM_THREADS', '1')  # one process per core already; torch threads would fight
    os.environ.setdefault('MPLBACKEND', 'Agg')
    import nbdev.serve_drv
    from nbdev.processors import FilterDefaults
    # Workers are reused (importing torch and nbdev again for every notebook costs seconds), as nbdev_test
    # reuses them: close what a previous notebook left, above all its widgets, whose state nbdev would
    # otherwise save into this notebook too.
    if 'ipywidgets' in sys.modules: sys.modules['ipywidgets'].Widget.close_all()
    if 'matplotlib.pyplot' in sys.modules: sys.modules['matplotlib.pyplot'].close('all')
    os.chdir(Path(src).parent)  # notebooks run with their own folder as the working directory
    start = time.time()
    nbdev.serve_drv.main((Path(src), Path(dst), FilterDefaults if execute else _no_exec_procs()))
    return time.time() - start


def _cache_key(nb, nbs_path):
    "What a processed notebook depends on: the notebook, the package it documents, nbdev and the settings."
    import hashlib
    import nbdev
    from nbdev.config import get_config
    h = hashlib.sha256(f'{nbdev.__version__}|{nb.relative_to(nbs_path)}|{Path(__file__).stat().st_size}'.encode())
    h.update(nb.read_bytes())
    cwd = os.getcwd()
    try:
        os.chdir(nbs_path)
        cfg = get_config()
        h.update(cfg.config_file.read_bytes())
        for f in sorted(Path(cfg.lib_path).rglob('*.py')): h.update(f.name.encode() + f.read_bytes())
    finally: os.chdir(cwd)
    return h.hexdigest()[:32]


def process_notebooks(notebooks, nbs_path, proc_dir, workers=None, cache=None, log=print):
    """nbdev's `proc_nbs` step for `notebooks`, written under `proc_dir`.

    Returns ({source: processed path}, {source: error text}). A notebook nbdev cannot process is processed
    again without executing anything (its page then lacks the API reference) and reported in the errors.
    Results are cached under `cache` by a hash of the notebook, the package source, settings.ini and nbdev.
    """
    # Spawned processes, as `nbdev_docs` uses: a notebook never runs in the builder's own process.
    out = {nb: Path(proc_dir)/nb.relative_to(nbs_path) for nb in notebooks}
    for dst in out.values(): dst.parent.mkdir(parents=True, exist_ok=True)
    keys = {}
    if cache:
        Path(cache).mkdir(parents=True, exist_ok=True)
        for nb in notebooks:
            keys[nb] = Path(cache)/f'{_cache_key(nb, nbs_path)}.ipynb'
            if keys[nb].exists():
                shutil.copy2(keys[nb], out[nb])
                keys[nb].touch()
        for old in Path(cache).glob('*.ipynb'):  # forget versions not used for two weeks
            if time.time() - old.stat().st_mtime > 14*86400: old.unlink(missing_ok=True)
    todo = [nb for nb in notebooks if not out[nb].exists()]
    errors = {}
    if todo:
        workers = max(1, min(len(todo), workers or os.cpu_count() or 1))
        ctx = multiprocessing.get_context('spawn')
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {nb: pool.submit(_process_one, str(nb), str(out[nb])) for nb in todo}
            for nb, fut in futures.items():
                try: log(f'  {nb.relative_to(nbs_path)}: {fut.result():.1f}s')
                except Exception as e:
                    tb = str(e.__cause__ or '').splitlines()
                    why = next((l for l in tb if re.match(r'^[\w.]*(Error|Exception|Interrupt)\b', l)
                                and 'Error in notebook' not in l), '')
                    lines = str(e).strip().splitlines()  # "Error in notebook: T in cell N :" and the cell
                    lines = lines[:6] + ['    ...'] * (len(lines) > 6)
                    errors[nb] = '\n'.join(lines) + (f'\n  -> {why}' if why else '')
            fallback = {nb: pool.submit(_process_one, str(nb), str(out[nb]), False) for nb in errors}
            for fut in fallback.values(): fut.result()
        if cache:
            for nb in todo:
                if nb in errors: continue
                tmp = keys[nb].with_suffix(f'.{os.getpid()}.tmp')  # atomic: another build may read it
                shutil.copy2(out[nb], tmp)
                os.replace(tmp, keys[nb])
    return out, errors


# ---------------------------------------------------------------------------------------------------------
# Step 2: from Quarto-ready notebook to something nbconvert renders the way Quarto would
# ---------------------------------------------------------------------------------------------------------
_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
_re_pandoc_link = re.compile(r'\[([^\]\n]+)\]\(([^)\s]+)\)\{([^}\n]*)\}')
_re_pandoc_attr = re.compile(r'([\w-]+)="([^"]*)"')
_re_md_link = re.compile(r'(\]\(|href=")([^)"\s]+)')
_re_math = re.compile(r'\$[^$\n]+\$|\$\$|\\\(|\\\[|\\begin\{')


_CELL_KEYS = {'code': {'id', 'cell_type', 'metadata', 'source', 'outputs', 'execution_count'},
              'markdown': {'id', 'cell_type', 'metadata', 'source', 'attachments'},
              'raw': {'id', 'cell_type', 'metadata', 'source', 'attachments'}}


def _text(v): return ''.join(v) if isinstance(v, list) else (v or '')


def _pandoc_links(md):
    """`[source](url){target="_blank" ...}` (Pandoc link attributes, as show_doc writes them): on a line of its
    own it becomes an HTML block (a right-aligned link), inside text a plain markdown link."""
    def sub(m):
        text, url, attrs = m.group(1), m.group(2), dict(_re_pandoc_attr.findall(m.group(3)))
        whole_line = (m.start() == 0 or md[m.start()-1] == '\n') and (m.end() == len(md) or md[m.end()] == '\n')
        if not whole_line: return f'[{text}]({url})'
        target = ' target="_blank" rel="noopener"' if attrs.get('target') == '_blank' else ''
        return f'<div class="source-link"><a href="{html.escape(url)}"{target}>{html.escape(text)}</a></div>'
    return _re_pandoc_link.sub(sub, md)


def _local_links(md, site_url, nb_names, depth):
    "Links to the published site become relative; links to a notebook point at its page."
    prefix = '../'*depth
    def sub(m):
        start, url = m.groups()
        if site_url and url.startswith(site_url + '/'): url = prefix + url[len(site_url)+1:]
        elif '://' not in url and not url.startswith(('#', '/', 'mailto:')):
            path, sep, anchor = url.partition('#')
            if path.endswith('.ipynb'): url = nb_names.get(Path(path).name, path) + sep + anchor
        return start + url
    return _re_md_link.sub(sub, md)


def prepare_notebook(nb_dict, *, site_url='', nb_names=None, depth=0):
    """Turn a notebook processed by nbdev into one nbconvert renders like Quarto.

    Returns (notebook dict, front matter dict, page facts). Quarto cell options (`#| echo: false`, ...) are
    applied and removed; Pandoc-only markdown is turned into HTML; widget views whose state was not saved fall
    back to their text form (the page says `IntSlider(...)` rather than showing a broken widget).
    """
    import yaml
    nb_names = nb_names or {}
    fm, cells = {}, []
    state = (nb_dict.get('metadata', {}).get('widgets', {}).get(WIDGET_STATE) or {}).get('state') or {}
    views, math = 0, False
    def fix_md(s): return _local_links(_pandoc_links(s), site_url, nb_names, depth)
    for cell in nb_dict['cells']:
        src = _text(cell.get('source'))
        if cell['cell_type'] == 'raw':
            m = re.match(r'^\s*---\s*\n(.*?)\n---\s*$', src, flags=re.DOTALL)
            if m and not fm:
                fm = yaml.safe_load(m.group(1)) or {}
                continue
        if cell['cell_type'] == 'markdown':
            if src.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            if not src.strip(): continue
            cell['source'] = fix_md(src)
            math = math or bool(_re_math.search(src))
        if cell['cell_type'] == 'code':
            lines, opts = src.splitlines(), {}
            while lines and (m := _re_directive.match(lines[0])):
                opts[m.group(1)] = m.group(2).strip('"\'')
                lines.pop(0)
            src = '\n'.join(lines).strip()
            if opts.get('include') == 'false': continue
            meta = cell.setdefault('metadata', {})
            if opts.get('echo') == 'false' or not src:
                meta.setdefault('tags', []).append('remove_input')
            if opts.get('output') == 'false': cell['outputs'] = []
            if 'code-fold' in opts:
                meta['docs_fold'] = opts['code-fold']
                meta['docs_fold_summary'] = opts.get('code-summary', 'Code')
            cell['source'] = src
            outputs = []
            for out in cell.get('outputs', []):
                data = out.get('data')
                if data is not None:
                    if WIDGET_VIEW in data:
                        model = (data[WIDGET_VIEW] or {}).get('model_id')
                        if model in state: views += 1
                        elif len(data) > 1: del data[WIDGET_VIEW]
                        else: continue
                    if 'text/markdown' in data:
                        md = _text(data['text/markdown'])
                        data['text/markdown'] = fix_md(md)
                        math = math or bool(_re_math.search(md))
                    if 'text/latex' in data and len(data) == 1: math = True
                outputs.append(out)
            cell['outputs'] = outputs
            if not src and not outputs: continue
        # nbdev leaves bookkeeping keys (`has_sd`, `idx_`) that nbformat's schema rejects
        cell = {k: v for k, v in cell.items() if k in _CELL_KEYS[cell['cell_type']]}
        cells.append(cell)
    nb_dict['cells'] = cells
    if not views: nb_dict.get('metadata', {}).pop('widgets', None)  # no widget on the page: no widget JS
    return nb_dict, fm, {'widgets': bool(views), 'math': math}


# ---------------------------------------------------------------------------------------------------------
# Step 3: after rendering: Pandoc-style heading ids (what nbdev's links point at), table of contents
# ---------------------------------------------------------------------------------------------------------
_re_heading = re.compile(r'<h([1-6]) id="([^"]*)">(.*?)<a class="anchor-link" href="#[^"]*">(.*?)</a></h\1>', re.DOTALL)


def slugify(text):
    "Pandoc's auto identifier: `GANLoss.forward` -> `ganloss.forward`, `Why LSGAN: grads` -> `why-lsgan-grads`."
    text = html.unescape(re.sub(r'<[^>]+>', '', text)).strip().lower()
    text = re.sub(r'[^\w\s.-]', '', text)
    text = re.sub(r'\s+', '-', text)
    text = re.sub(r'^[^a-z]+', '', text)
    return text or 'section'


def fix_headings(page_html, taken=()):
    "Give every heading the id Pandoc (Quarto) would; returns (html, [(level, id, text)])."
    seen, toc = set(taken), []
    def sub(m):
        level, _, inner, mark = m.groups()
        base = slugify(inner)
        ident, n = base, 0
        while ident in seen: n += 1; ident = f'{base}-{n}'
        seen.add(ident)
        toc.append((int(level), ident, html.unescape(re.sub(r'<[^>]+>', '', inner)).strip()))
        return f'<h{level} id="{ident}">{inner}<a class="anchor-link" href="#{ident}">{mark}</a></h{level}>'
    return _re_heading.sub(sub, page_html), toc


def toc_html(toc):
    items = [f'<li class="toc-h{lvl}"><a href="#{ident}">{html.escape(text)}</a></li>'
             for lvl, ident, text in toc if lvl in (2, 3)]
    return f'<h2>On this page</h2><ul>{"".join(items)}</ul>' if items else ''


# ---------------------------------------------------------------------------------------------------------
# Local JavaScript: npm install into a cache, copy what the pages need
# ---------------------------------------------------------------------------------------------------------
def default_cache():
    if os.environ.get('GAN_NB_DOCS_CACHE'): return Path(os.environ['GAN_NB_DOCS_CACHE'])
    base = Path(os.environ.get('XDG_CACHE_HOME') or Path.home()/'.cache')
    return base/'gan_nb'/'docs'


def _npm_files(cache):
    mods = Path(cache)/'node_modules'
    return {'require': mods/'requirejs'/'require.js',
            'widgets': mods/'@jupyter-widgets'/'html-manager'/'dist'/'embed-amd.js',
            'mathjax': mods/'mathjax'/'es5'/'tex-chtml.js'}


def ensure_npm_packages(cache, log=print):
    "Install require.js, the widgets' html-manager and MathJax into `cache` once; returns their paths."
    files = _npm_files(cache)
    if all(f.exists() for f in files.values()): return files
    npm = shutil.which('npm')
    if not npm:
        raise DocsError('the docs need npm to fetch require.js, the widget renderer and MathJax (no CDN): '
                        'install Node.js with npm (Debian: apt-get install -y npm), or fill the cache folder '
                        f'{cache} with `npm install --prefix {cache} {" ".join(NPM_PACKAGES)}` elsewhere')
    Path(cache).mkdir(parents=True, exist_ok=True)
    with _locked(Path(cache)/'.npm-install.lock'):
        if all(f.exists() for f in files.values()): return files  # another build installed them meanwhile
        return _npm_install(npm, cache, files, log)


class _locked:
    "An exclusive lock on a file (so that two builds do not run npm in the same folder at once)."
    def __init__(self, path): self.path = path
    def __enter__(self):
        self.f = open(self.path, 'w')
        try:
            import fcntl
            fcntl.flock(self.f, fcntl.LOCK_EX)
        except ImportError: pass
        return self
    def __exit__(self, *exc): self.f.close()


def _npm_install(npm, cache, files, log):
    cmd = [npm, 'install', '--prefix', str(cache), '--no-audit', '--no-fund', '--ignore-scripts', *NPM_PACKAGES]
    log(f'npm install into {cache} ...')
    res = subprocess.run(cmd, capture_output=True, text=True)
    missing = [str(f) for f in files.values() if not f.exists()]
    if res.returncode or missing:
        raise DocsError(f'`{" ".join(cmd)}` failed (exit {res.returncode}; missing {missing}):\n'
                        f'{res.stdout[-2000:]}\n{res.stderr[-2000:]}')
    return files


def copy_js(files, static, widgets, math):
    if widgets:
        shutil.copy2(files['require'], static/'require.js')
        dist = files['widgets'].parent
        (static/'widgets').mkdir(exist_ok=True)
        # the bundle and the icon fonts it loads from its own folder; not the 12 MB of other bundles and maps
        for f in dist.iterdir():
            if f.name == 'embed-amd.js' or f.suffix in {'.woff', '.woff2', '.ttf', '.eot', '.svg'}:
                shutil.copy2(f, static/'widgets'/f.name)
    if math:
        es5 = files['mathjax'].parent
        (static/'mathjax').mkdir(exist_ok=True)
        shutil.copy2(es5/'tex-chtml.js', static/'mathjax'/'tex-chtml.js')
        shutil.copytree(es5/'output'/'chtml'/'fonts', static/'mathjax'/'output'/'chtml'/'fonts', dirs_exist_ok=True)


def _lab_css():
    "JupyterLab's cell styles from nbconvert's `lab` template, written once instead of inlined per page."
    from nbconvert.exporters import HTMLExporter
    for d in HTMLExporter(template_name='lab').template_paths:
        if (Path(d)/'static'/'index.css').exists():
            return (Path(d)/'static'/'index.css').read_text() + '\n' + (Path(d)/'static'/'theme-light.css').read_text()
    raise DocsError("nbconvert's lab template was not found: pip install 'nbconvert>=7'")


# ---------------------------------------------------------------------------------------------------------
# The whole build
# ---------------------------------------------------------------------------------------------------------
def _clean_dest(dest, force, check_only=False):
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        if not (force or (dest/MARKER).exists() or dest.name == '_docs'):
            raise DocsError(f'{dest} is not empty and was not written by this script: choose another --dest '
                            'or pass --force to replace it')
        if check_only: return
        shutil.rmtree(dest)
    if check_only: return
    dest.mkdir(parents=True, exist_ok=True)
    (dest/MARKER).write_text('written by tools/build_docs.py; the whole folder is replaced on every build\n')


def _site_settings(nbs_path):
    from nbdev.config import get_config
    cwd = os.getcwd()
    try:
        os.chdir(nbs_path)
        cfg = get_config()
        url = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/')
        return {'site_title': cfg.get('title', cfg.get('lib_name', '')), 'site_description': cfg.get('description', ''),
                'repo_url': cfg.get('git_url', ''), 'site_url': url}
    finally: os.chdir(cwd)


def _copy_local_files(page_html, src_dir, page_path, site):
    "Images and files that markdown refers to by a relative path (e.g. `![](images/x.png)`) go along."
    for url in re.findall(r'(?:src|href)="([^"#?]+)', page_html):
        if re.match(r'^[a-z][a-z0-9+.-]*:', url) or url.startswith(('/', '_static/')) or url.endswith('.html'): continue
        src, dst = (src_dir/url).resolve(), (page_path.parent/url).resolve()
        if src.is_file() and not dst.exists() and site in dst.parents:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def build(nbs_path=None, dest=None, cache=None, workers=None, force=False, strict=True, use_cache=True, log=print):
    """Build the website from the notebooks in `nbs_path` into `dest`; returns ([page paths], {notebook: error}).

    A notebook that nbdev cannot process still gets a page (without its API reference, with a warning at the
    top); with `strict` the build then raises `DocsError` after writing the site, otherwise it returns the
    errors. Processed notebooks are cached next to the npm packages unless `use_cache` is False.
    """
    import nbformat
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config
    t0 = time.time()
    nbs_path = Path(nbs_path or ROOT/'nbs').resolve()
    dest = Path(dest or ROOT/'_docs').resolve()
    _clean_dest(dest, force, check_only=True)  # fail before the work, not after
    notebooks = find_notebooks(nbs_path)
    if not notebooks: raise DocsError(f'no notebooks found in {nbs_path}')
    groups = sidebar_groups(nbs_path, notebooks)
    notebooks = [nb for _, members in groups for nb in members]  # the sidebar's order, for prev/next too
    settings = _site_settings(nbs_path)
    names = {nb: page_name(nb, nbs_path) for nb in notebooks}

    cache_root = Path(cache or default_cache())
    with TemporaryDirectory(prefix='gan_nb_docs_proc_') as proc_dir:
        log(f'processing {len(notebooks)} notebooks with nbdev ...')
        processed, errors = process_notebooks(notebooks, nbs_path, proc_dir, workers,
                                              cache=cache_root/'proc' if use_cache else None, log=log)
        log(f'processed in {time.time()-t0:.1f}s')
        pages = []
        for nb in notebooks:
            depth = len(Path(names[nb]).parent.parts)
            nb_dict = json.loads(processed[nb].read_text(encoding='utf-8'))
            nb_dict, fm, facts = prepare_notebook(nb_dict, site_url=settings['site_url'], depth=depth,
                                                  nb_names={n.name: '../'*depth + names[n] for n in notebooks})
            pages.append(dict(src=nb, href=names[nb],
                              title=str(fm.get('title') or nb.stem), description=str(fm.get('description') or ''),
                              depth=depth, nb=nb_dict, error=errors.get(nb), **facts))

    project_css = (nbs_path/'styles.css').exists()
    need_widgets, need_math = any(p['widgets'] for p in pages), any(p['math'] for p in pages)
    c = Config()
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    exporter = HTMLExporter(config=c, template_name='gan_nb_docs', extra_template_basedirs=[str(ASSETS/'templates')])
    nav = [{'href': p['href'], 'title': p['title']} for p in pages]
    nav_of = {p['src']: n for p, n in zip(pages, nav)}
    sections = [{'title': title, 'pages': [nav_of[nb] for nb in members]} for title, members in groups]
    written, bodies = [], {}
    for i, p in enumerate(pages):
        nb = nbformat.reads(json.dumps(p['nb']), as_version=4)
        nb.metadata['title'] = f"{p['title']} – {settings['site_title']}"
        title_id = slugify(p['title'])
        docs = dict(settings, root='../'*p['depth'], title=p['title'], title_id=title_id, description=p['description'],
                    widgets=p['widgets'], math=p['math'], project_css=project_css, error=p['error'],
                    sections=[dict(sec, pages=[dict(n, current=(n['href'] == p['href'])) for n in sec['pages']])
                              for sec in sections],
                    prev=nav[i-1] if i > 0 else None, next=nav[i+1] if i+1 < len(nav) else None)
        body, _ = exporter.from_notebook_node(nb, resources={'docs': docs, 'metadata': {'name': p['title']}})
        body, toc = fix_headings(body, taken={title_id})
        body = body.replace('<!--DOCS-TOC-->', toc_html(toc), 1)
        external = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="((?:https?:)?//[^"]*)"', body)
        if external: raise DocsError(f'{p["src"].name}: page loads {external} from outside the site')
        bodies[p['href']] = body
    js_files = ensure_npm_packages(cache_root, log) if need_widgets or need_math else None

    # only now, with every page rendered, replace the old site
    _clean_dest(dest, force)
    static = dest/'_static'
    static.mkdir()
    (static/'jupyterlab.css').write_text(_lab_css(), encoding='utf-8')
    shutil.copy2(ASSETS/'site.css', static/'site.css')
    if project_css: shutil.copy2(nbs_path/'styles.css', static/'styles.css')
    if js_files: copy_js(js_files, static, need_widgets, need_math)
    for href, body in bodies.items():
        out = dest/href
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body, encoding='utf-8')
        _copy_local_files(body, next(p['src'] for p in pages if p['href'] == href).parent, out, dest)
        written.append(out)
    js = [k for k, v in (('widgets', need_widgets), ('MathJax', need_math)) if v]
    log(f'built {len(written)} pages into {dest} in {time.time()-t0:.1f}s (local JS: {", ".join(js) or "none"})')
    if errors:
        msg = ('nbdev could not process these notebooks, so their pages lack the API reference. nbdev runs every '
               'export, show_doc and import cell (even #| slow ones): keep imports in cells of their own.\n' +
               '\n'.join(f'{nb.relative_to(nbs_path)}: {err}' for nb, err in errors.items()))
        if strict: raise DocsError(msg)
        log('WARNING: ' + msg)
    return written, errors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--nbs', type=Path, default=ROOT/'nbs', help='notebook folder (default: nbs/)')
    ap.add_argument('--dest', type=Path, default=ROOT/'_docs', help='output folder, replaced on every build (default: _docs/)')
    ap.add_argument('--cache', type=Path, default=None, help=f'cache for the npm packages and processed notebooks (default: {default_cache()})')
    ap.add_argument('--workers', type=int, default=None, help='notebooks processed in parallel (default: one per core)')
    ap.add_argument('--force', action='store_true', help='replace --dest even if this script did not write it')
    ap.add_argument('--no-cache', action='store_true', help='process every notebook again (default: reuse unchanged ones)')
    args = ap.parse_args(argv)
    try: build(args.nbs, args.dest, args.cache, args.workers, args.force, use_cache=not args.no_cache)
    except DocsError as e: sys.exit(f'build_docs: {e}')


if __name__ == '__main__':
    # Run as the module `build_docs`, not `__main__`: the worker processes pickle `_process_one` by module
    # name, and IPython (which nbdev runs the notebooks in) replaces `sys.modules['__main__']` in them.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import build_docs
    build_docs.main()
