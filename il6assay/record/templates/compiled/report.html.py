from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'report.html'

def root(context, missing=missing, environment=environment):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_html_lang = resolve('html_lang')
    l_0_t = resolve('t')
    l_0_run_id = resolve('run_id')
    l_0_role_colours = resolve('role_colours')
    l_0_standalone = resolve('standalone')
    l_0_plotly_js = resolve('plotly_js')
    l_0_plotly_name = resolve('plotly_name')
    l_0_review_js = resolve('review_js')
    l_0_w = resolve('w')
    l_0_status = resolve('status')
    l_0_headline = resolve('headline')
    l_0_why = resolve('why')
    l_0_header = resolve('header')
    l_0_masked = resolve('masked')
    l_0_rules = resolve('rules')
    l_0_figures = resolve('figures')
    l_0_standards = resolve('standards')
    l_0_plate = resolve('plate')
    l_0_controls = resolve('controls')
    l_0_samples = resolve('samples')
    l_0_flags = resolve('flags')
    l_0_js_words = resolve('js_words')
    l_0_parts = missing
    try:
        t_1 = environment.filters['safe']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'safe' found.")
    pass
    l_0_parts = context.vars['parts'] = environment.get_template('report_parts.html', 'report.html')._get_default_module(context)
    context.exported_vars.discard('parts')
    yield '<!DOCTYPE html>\n<html lang="'
    yield str(environment.finalize((undefined(name='html_lang') if l_0_html_lang is missing else l_0_html_lang)))
    yield '"><head><meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'title_report')))
    yield ': '
    yield str(environment.finalize((undefined(name='run_id') if l_0_run_id is missing else l_0_run_id)))
    yield '</title>\n<style>\nbody { font-family: sans-serif; margin: 1.2em auto; max-width: 1150px; padding: 0 1em; }\ntable { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }\nth, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }\ntr.flagged td { background: #fff3cd; }\nh2.verdict { margin-bottom: 0.2em; }\n.verdict.accepted { color: #1a7f37; } .verdict.rejected { color: #b42318; }\nul.why { margin-top: 0.2em; color: #333; }\nli.fail { color: #b42318; }\n#plotly-missing { background: #fde2e1; padding: 0.6em; border: 1px solid #b42318; }\ntable.platemap { table-layout: fixed; }\ntable.platemap th { text-align: center; padding: 1px; }\ntable.platemap td { width: 48px; height: 46px; padding: 1px 2px; vertical-align: top;\n  position: relative; font-size: 11px; line-height: 1.15; border: 1px solid #999; }\ntable.platemap .wn { display: block; color: #555; font-size: 9px; white-space: nowrap;\n  padding-right: 9px; overflow: hidden; }\ntable.platemap .wn i { font-style: normal; color: #222; }\ntable.platemap .lb { display: block; font-weight: bold; overflow: hidden; white-space: nowrap; }\ntable.platemap .od { display: block; color: #333; font-size: 10px; }\ntable.platemap .mk { position: absolute; top: 1px; right: 2px; font-weight: bold; }\n'
    for (l_1_role, l_1_colour) in context.call(environment.getattr((undefined(name='role_colours') if l_0_role_colours is missing else l_0_role_colours), 'items')):
        _loop_vars = {}
        pass
        yield 'table.platemap td.'
        yield str(environment.finalize(l_1_role))
        yield ', .key.'
        yield str(environment.finalize(l_1_role))
        yield ' { background: '
        yield str(environment.finalize(l_1_colour))
        yield '; }\n'
    l_1_role = l_1_colour = missing
    yield 'table.platemap td.fault { outline: 3px solid #b42318; outline-offset: -3px; }\ntable.platemap td.fault .mk { color: #b42318; }\ntable.platemap td.censored { outline: 2px dashed #1f5fa8; outline-offset: -3px; }\ntable.platemap td.censored .mk { color: #1f5fa8; }\ntable.platemap td.masked { background-image: repeating-linear-gradient(45deg, transparent 0 5px,\n  rgba(0,0,0,0.18) 5px 7px); color: #555; }\ntable.platemap td.suspect .mk { color: #8a5a00; }\n.legend { font-size: 0.85em; margin: 0.3em 0 1em; line-height: 2; }\n.key { display: inline-block; padding: 0 6px; margin-right: 6px; border: 1px solid #999; }\n.key.fault { outline: 2px solid #b42318; } .key.fault b { color: #b42318; }\n.key.censored { outline: 2px dashed #1f5fa8; } .key.censored b { color: #1f5fa8; }\n\n@page { size: A4; margin: 12mm; }\n@media print {\n  body { max-width: none; margin: 0; padding: 0; font-size: 9.5pt; }\n  h1 { font-size: 14pt; } h2 { font-size: 12pt; break-after: avoid; }\n  table { font-size: 8pt; max-width: 100%; }\n  th, td { padding: 1px 4px; }\n  tr, li, .legend, table.platemap, .js-plotly-plot { break-inside: avoid; }\n  thead { display: table-header-group; }\n  .modebar, #plotly-missing { display: none !important; }\n  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }\n  a { color: inherit; text-decoration: none; }\n}\n</style>\n'
    if (undefined(name='standalone') if l_0_standalone is missing else l_0_standalone):
        pass
        yield '<script>'
        yield str(environment.finalize((undefined(name='plotly_js') if l_0_plotly_js is missing else l_0_plotly_js)))
        yield '</script>'
    else:
        pass
        yield '<script src="../'
        yield str(environment.finalize((undefined(name='plotly_name') if l_0_plotly_name is missing else l_0_plotly_name)))
        yield '"></script>'
    yield '\n<script src="'
    yield str(environment.finalize((undefined(name='review_js') if l_0_review_js is missing else l_0_review_js)))
    yield '"></script>\n</head><body>\n<div id="plotly-missing" hidden>'
    yield str(environment.finalize(t_1(context.call((undefined(name='w') if l_0_w is missing else l_0_w), 'missing_plotly', name=str_join(('<code>', (undefined(name='plotly_name') if l_0_plotly_name is missing else l_0_plotly_name), '</code>', ))))))
    yield '</div>\n<h1>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'title_run')))
    yield ' '
    yield str(environment.finalize((undefined(name='run_id') if l_0_run_id is missing else l_0_run_id)))
    yield '</h1>\n<h2 class="verdict '
    yield str(environment.finalize((undefined(name='status') if l_0_status is missing else l_0_status)))
    yield '">'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'verdict')))
    yield ': '
    yield str(environment.finalize((undefined(name='headline') if l_0_headline is missing else l_0_headline)))
    yield '</h2>\n'
    if (undefined(name='why') if l_0_why is missing else l_0_why):
        pass
        yield '<ul class="why">'
        for l_1_line in (undefined(name='why') if l_0_why is missing else l_0_why):
            _loop_vars = {}
            pass
            yield '<li>'
            yield str(environment.finalize(l_1_line))
            yield '</li>'
        l_1_line = missing
        yield '</ul>'
    yield '\n<table>'
    for (l_1_label, l_1_value) in (undefined(name='header') if l_0_header is missing else l_0_header):
        _loop_vars = {}
        pass
        yield '<tr><th>'
        yield str(environment.finalize(environment.getitem((undefined(name='t') if l_0_t is missing else l_0_t), l_1_label)))
        yield '</th><td>'
        yield str(environment.finalize((l_1_value or environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'none'))))
        yield '</td></tr>'
    l_1_label = l_1_value = missing
    yield '<tr><th>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'review')))
    yield '</th><td id="review">'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'unreviewed')))
    yield '</td></tr></table>\n<h2>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'review_history')))
    yield '</h2>\n'
    yield str(environment.finalize(t_1(context.call(environment.getattr((undefined(name='parts') if l_0_parts is missing else l_0_parts), 'history'), (undefined(name='t') if l_0_t is missing else l_0_t)))))
    yield '\n<h2>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'masked_wells')))
    yield '</h2>\n'
    yield str(environment.finalize(t_1(context.call(environment.getattr((undefined(name='parts') if l_0_parts is missing else l_0_parts), 'masked'), (undefined(name='t') if l_0_t is missing else l_0_t), (undefined(name='masked') if l_0_masked is missing else l_0_masked)))))
    yield '\n<h2>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'acceptance_rules')))
    yield '</h2>\n'
    yield str(environment.finalize(t_1(context.call(environment.getattr((undefined(name='parts') if l_0_parts is missing else l_0_parts), 'rules'), (undefined(name='t') if l_0_t is missing else l_0_t), (undefined(name='rules') if l_0_rules is missing else l_0_rules)))))
    yield '\n'
    yield str(environment.finalize(environment.getattr((undefined(name='figures') if l_0_figures is missing else l_0_figures), 'curve')))
    yield '\n'
    yield str(environment.finalize(environment.getattr((undefined(name='figures') if l_0_figures is missing else l_0_figures), 'residuals')))
    yield '\n<h2>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'standards')))
    yield '</h2>\n'
    yield str(environment.finalize(t_1(context.call(environment.getattr((undefined(name='parts') if l_0_parts is missing else l_0_parts), 'table'), (undefined(name='standards') if l_0_standards is missing else l_0_standards)))))
    yield '\n<h2>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'plate_map')))
    yield '</h2>\n'
    yield str(environment.finalize(t_1(context.call(environment.getattr((undefined(name='parts') if l_0_parts is missing else l_0_parts), 'plate_map'), (undefined(name='t') if l_0_t is missing else l_0_t), (undefined(name='plate') if l_0_plate is missing else l_0_plate)))))
    yield '\n'
    yield str(environment.finalize(environment.getattr((undefined(name='figures') if l_0_figures is missing else l_0_figures), 'plate')))
    yield '\n<h2>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'controls')))
    yield '</h2>\n'
    if (undefined(name='controls') if l_0_controls is missing else l_0_controls):
        pass
        yield str(environment.finalize(t_1(context.call(environment.getattr((undefined(name='parts') if l_0_parts is missing else l_0_parts), 'table'), (undefined(name='controls') if l_0_controls is missing else l_0_controls)))))
    else:
        pass
        yield '<p>'
        yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'no_controls')))
        yield '</p>'
    yield '\n<h2>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'samples')))
    yield '</h2>\n'
    yield str(environment.finalize(t_1(context.call(environment.getattr((undefined(name='parts') if l_0_parts is missing else l_0_parts), 'table'), (undefined(name='samples') if l_0_samples is missing else l_0_samples)))))
    yield '\n<p>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'censored_note')))
    yield '</p>\n<h2>'
    yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'flags_on_this_plate')))
    yield '</h2>\n'
    if (undefined(name='flags') if l_0_flags is missing else l_0_flags):
        pass
        yield str(environment.finalize(t_1(context.call(environment.getattr((undefined(name='parts') if l_0_parts is missing else l_0_parts), 'table'), (undefined(name='flags') if l_0_flags is missing else l_0_flags)))))
    else:
        pass
        yield '<p>'
        yield str(environment.finalize(environment.getattr((undefined(name='t') if l_0_t is missing else l_0_t), 'no_flags_on_this_plate')))
        yield '</p>'
    yield '\n<script>\nif (typeof Plotly === "undefined") {\n  document.getElementById("plotly-missing").hidden = false;\n}\nvar WORDS = '
    yield str(environment.finalize((undefined(name='js_words') if l_0_js_words is missing else l_0_js_words)))
    yield ';\nfunction word(k) { return WORDS[k] || k; }\nvar review = window.IL6_REVIEW;\nif (review && review.status) {\n  var text = word(review.status);\n  if (review.by) {\n    text += " " + word("by") + " " + review.by + " " + word("at") + " " + review.time_utc +\n      ": " + review.reason;\n  }\n  if (review.override) { text += " (" + word("OVERRIDE of the acceptance rules") + ")"; }\n  document.getElementById("review").textContent = text;\n}\nif (review && review.history && review.history.length) {\n  var body = document.querySelector("#review-history tbody");\n  body.textContent = "";\n  review.history.forEach(function (h) {\n    var tr = document.createElement("tr");\n    [h.time_utc, word(h.decision), h.by, h.os_account, h.reason,\n     h.override ? word("OVERRIDE of the acceptance rules") : ""].forEach(function (v) {\n      var td = document.createElement("td");\n      td.textContent = v == null ? "" : v;\n      tr.appendChild(td);\n    });\n    body.appendChild(tr);\n  });\n}\nif (review && review.masks) {\n  document.querySelectorAll("#masked tr[data-well]").forEach(function (tr) {\n    var m = review.masks[tr.dataset.well];\n    if (!m) { return; }\n    tr.querySelector(".m-by").textContent = m.by || "";\n    tr.querySelector(".m-time").textContent = m.time_utc || "";\n    tr.querySelector(".m-reason").textContent = m.reason || "";\n  });\n}\n</script>\n</body></html>\n'

blocks = {}
debug_info = '1=40&3=43&5=45&26=49&52=61&53=72&55=74&56=76&57=80&58=86&59=98&60=112&61=114&62=116&63=118&64=120&65=122&66=124&67=126&68=128&69=130&70=132&71=134&72=136&73=138&74=140&75=149&76=151&77=153&78=155&79=157&84=166'
# compiled by jinja2 3.1.6; template and options: sha256 75aef408205514f0f52b7f166b36f0a49039cae203f30361871adf05804b5381
