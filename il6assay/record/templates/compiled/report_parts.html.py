from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'report_parts.html'

def root(context, missing=missing, environment=environment):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_table = l_0_history = l_0_masked = l_0_rules = l_0_plate_map = missing
    pass
    def macro(l_1_t):
        t_1 = []
        if l_1_t is missing:
            l_1_t = undefined("parameter 't' was not provided", name='t')
        pass
        t_1.append(
            '<table',
        )
        if environment.getattr(l_1_t, 'id'):
            pass
            t_1.extend((
                ' id="',
                str(environment.finalize(environment.getattr(l_1_t, 'id'))),
                '"',
            ))
        t_1.append(
            '><thead><tr>',
        )
        for l_2_h in environment.getattr(l_1_t, 'headers'):
            _loop_vars = {}
            pass
            t_1.extend((
                '<th>',
                str(environment.finalize(l_2_h)),
                '</th>',
            ))
        l_2_h = missing
        t_1.append(
            '</tr></thead><tbody>',
        )
        for (l_2_cells, l_2_flagged) in environment.getattr(l_1_t, 'rows'):
            _loop_vars = {}
            pass
            t_1.append(
                '<tr',
            )
            if l_2_flagged:
                pass
                t_1.append(
                    ' class="flagged"',
                )
            t_1.append(
                '>',
            )
            for l_3_c in l_2_cells:
                _loop_vars = {}
                pass
                t_1.extend((
                    '<td>',
                    str(environment.finalize(l_3_c)),
                    '</td>',
                ))
            l_3_c = missing
            t_1.append(
                '</tr>',
            )
        l_2_cells = l_2_flagged = missing
        t_1.append(
            '</tbody></table>',
        )
        return concat(t_1)
    context.exported_vars.add('table')
    context.vars['table'] = l_0_table = Macro(environment, macro, 'table', ('t',), False, False, False, context.eval_ctx.autoescape)
    def macro(l_1_t):
        t_2 = []
        if l_1_t is missing:
            l_1_t = undefined("parameter 't' was not provided", name='t')
        pass
        t_2.append(
            '<table id="review-history"><thead><tr>',
        )
        for l_2_key in ('time_utc', 'decision', 'who', 'os_account', 'reason', 'override'):
            _loop_vars = {}
            pass
            t_2.extend((
                '<th>',
                str(environment.finalize(environment.getitem(l_1_t, l_2_key))),
                '</th>',
            ))
        l_2_key = missing
        t_2.extend((
            '</tr></thead><tbody><tr class="none"><td colspan="6">',
            str(environment.finalize(environment.getattr(l_1_t, 'no_review_yet'))),
            '</td></tr></tbody></table>',
        ))
        return concat(t_2)
    context.exported_vars.add('history')
    context.vars['history'] = l_0_history = Macro(environment, macro, 'history', ('t',), False, False, False, context.eval_ctx.autoescape)
    def macro(l_1_t, l_1_wells):
        t_3 = []
        if l_1_t is missing:
            l_1_t = undefined("parameter 't' was not provided", name='t')
        if l_1_wells is missing:
            l_1_wells = undefined("parameter 'wells' was not provided", name='wells')
        pass
        if (not l_1_wells):
            pass
            t_3.extend((
                '<p id="masked-none">',
                str(environment.finalize(environment.getattr(l_1_t, 'no_wells_are_masked'))),
                '</p>',
            ))
        else:
            pass
            t_3.append(
                '<table id="masked"><thead><tr>',
            )
            for l_2_key in ('well', 'masked_by', 'time_utc', 'reason'):
                _loop_vars = {}
                pass
                t_3.extend((
                    '<th>',
                    str(environment.finalize(environment.getitem(l_1_t, l_2_key))),
                    '</th>',
                ))
            l_2_key = missing
            t_3.append(
                '</tr></thead><tbody>',
            )
            for l_2_well in l_1_wells:
                _loop_vars = {}
                pass
                t_3.extend((
                    '<tr data-well="',
                    str(environment.finalize(l_2_well)),
                    '"><td>',
                    str(environment.finalize(l_2_well)),
                    '</td><td class="m-by"></td><td class="m-time"></td><td class="m-reason">',
                    str(environment.finalize(environment.getattr(l_1_t, 'mask_reason_in_audit'))),
                    '</td></tr>',
                ))
            l_2_well = missing
            t_3.append(
                '</tbody></table>',
            )
        return concat(t_3)
    context.exported_vars.add('masked')
    context.vars['masked'] = l_0_masked = Macro(environment, macro, 'masked', ('t', 'wells'), False, False, False, context.eval_ctx.autoescape)
    def macro(l_1_t, l_1_items):
        t_4 = []
        if l_1_t is missing:
            l_1_t = undefined("parameter 't' was not provided", name='t')
        if l_1_items is missing:
            l_1_items = undefined("parameter 'items' was not provided", name='items')
        pass
        t_4.append(
            '<ul>',
        )
        for l_2_r in l_1_items:
            _loop_vars = {}
            pass
            t_4.extend((
                '<li class="',
                str(environment.finalize(environment.getattr(l_2_r, 'mark'))),
                '"><b>',
                str(environment.finalize(environment.getitem(l_1_t, environment.getattr(l_2_r, 'verdict')))),
                '</b> ',
                str(environment.finalize(environment.getattr(l_2_r, 'id'))),
                ': ',
                str(environment.finalize(environment.getattr(l_2_r, 'description'))),
                '. ',
                str(environment.finalize(environment.getattr(l_2_r, 'detail'))),
                '.',
            ))
            if environment.getattr(l_2_r, 'wells'):
                pass
                t_4.extend((
                    ' ',
                    str(environment.finalize(environment.getattr(l_1_t, 'wells_at_fault'))),
                    ': ',
                    str(environment.finalize(environment.getattr(l_2_r, 'wells'))),
                    '.',
                ))
            t_4.extend((
                ' <i>',
                str(environment.finalize(environment.getattr(l_1_t, 'source'))),
                ': ',
                str(environment.finalize(environment.getattr(l_2_r, 'source'))),
                str(environment.finalize(environment.getattr(l_2_r, 'profile'))),
                '</i></li>',
            ))
        l_2_r = missing
        t_4.append(
            '</ul>',
        )
        return concat(t_4)
    context.exported_vars.add('rules')
    context.vars['rules'] = l_0_rules = Macro(environment, macro, 'rules', ('t', 'items'), False, False, False, context.eval_ctx.autoescape)
    def macro(l_1_t, l_1_plate):
        t_5 = []
        if l_1_t is missing:
            l_1_t = undefined("parameter 't' was not provided", name='t')
        if l_1_plate is missing:
            l_1_plate = undefined("parameter 'plate' was not provided", name='plate')
        pass
        t_5.append(
            '<table class="platemap" id="plate-map"><thead><tr><th></th>',
        )
        for l_2_c in environment.getattr(l_1_plate, 'cols'):
            _loop_vars = {}
            pass
            t_5.extend((
                '<th>',
                str(environment.finalize(l_2_c)),
                '</th>',
            ))
        l_2_c = missing
        t_5.append(
            '</tr></thead><tbody>',
        )
        for (l_2_letter, l_2_cells) in environment.getattr(l_1_plate, 'rows'):
            _loop_vars = {}
            pass
            t_5.extend((
                '<tr><th>',
                str(environment.finalize(l_2_letter)),
                '</th>',
            ))
            for (l_3_classes, l_3_title, l_3_name, l_3_short, l_3_mark, l_3_label, l_3_od) in l_2_cells:
                _loop_vars = {}
                pass
                t_5.extend((
                    '<td class="',
                    str(environment.finalize(l_3_classes)),
                    '" title="',
                    str(environment.finalize(l_3_title)),
                    '"><span class="wn">',
                    str(environment.finalize(l_3_name)),
                    ' <i>',
                    str(environment.finalize(l_3_short)),
                    '</i></span><span class="mk">',
                    str(environment.finalize(l_3_mark)),
                    '</span><span class="lb">',
                    str(environment.finalize(l_3_label)),
                    '</span><span class="od">',
                    str(environment.finalize(l_3_od)),
                    '</span></td>',
                ))
            l_3_classes = l_3_title = l_3_name = l_3_short = l_3_mark = l_3_label = l_3_od = missing
            t_5.append(
                '</tr>',
            )
        l_2_letter = l_2_cells = missing
        t_5.extend((
            '</tbody></table><div class="legend" id="plate-legend"><b>',
            str(environment.finalize(environment.getattr(l_1_t, 'legend'))),
            ':</b> ',
        ))
        for (l_2_role, l_2_words) in environment.getattr(l_1_plate, 'roles'):
            _loop_vars = {}
            pass
            t_5.extend((
                '<span class="key ',
                str(environment.finalize(l_2_role)),
                '">',
                str(environment.finalize(l_2_words)),
                '</span>',
            ))
        l_2_role = l_2_words = missing
        t_5.append(
            '<br>',
        )
        for (l_2_cls, l_2_sym, l_2_key) in (('fault', '✕', 'legend_fault'), ('censored', '< >', 'legend_censored'), ('masked', 'M', 'legend_masked')):
            _loop_vars = {}
            pass
            t_5.extend((
                '<span class="key ',
                str(environment.finalize(l_2_cls)),
                '"><b>',
                str(environment.finalize(l_2_sym)),
                '</b> ',
                str(environment.finalize(environment.getitem(l_1_t, l_2_key))),
                '</span>',
            ))
        l_2_cls = l_2_sym = l_2_key = missing
        if environment.getattr(l_1_plate, 'suspect'):
            pass
            t_5.append(
                '<span class="key suspect"><b>?</b> SUSPECT_OUTLIER</span>',
            )
        t_5.append(
            '</div>',
        )
        return concat(t_5)
    context.exported_vars.add('plate_map')
    context.vars['plate_map'] = l_0_plate_map = Macro(environment, macro, 'plate_map', ('t', 'plate'), False, False, False, context.eval_ctx.autoescape)
    yield '\n'

blocks = {}
debug_info = '4=12&7=75&10=100&13=150&17=200'
# compiled by jinja2 3.1.6; template and options: sha256 57978289387c72fb9fc72368241aaa6771907bde3dbaa6e0e43752f16ec28089
