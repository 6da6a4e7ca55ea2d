import re, sys, pathlib
EXCL = re.compile(r'^(inline|constexpr|template|using|#|//|/\*|namespace|enum|static_assert|friend|typedef|extern|\}|SYNCBRIDGE_API)')
def annotate(path):
    lines = path.read_text().split('\n')
    out = []; changed = False; i = 0
    while i < len(lines):
        l = lines[i]
        m = re.match(r'^(class|struct)(\s+\[\[\w+\]\])?\s+(\w+)(\s+final)?\s*(:|\{|$)', l)
        prev = out[-1] if out else ''
        if m and 'SYNCBRIDGE_API' not in l and not l.rstrip().endswith(';') and not prev.startswith('template'):
            l = l.replace(m.group(1), m.group(1) + ' SYNCBRIDGE_API', 1) if not m.group(2) else l.replace(m.group(2), m.group(2) + ' SYNCBRIDGE_API', 1)
            changed = True
        elif l and not l[0].isspace() and '(' in l and not EXCL.match(l) and not prev.startswith('template'):
            # gather the declaration up to ';' or '{'
            j = i; text = l
            while not re.search(r'[;{]', text) and j + 1 < len(lines):
                j += 1; text += lines[j]
            semi = text.find(';'); brace = text.find('{')
            if semi != -1 and (brace == -1 or semi < brace) and 'operator' not in text.split('(')[0]:
                mm = re.match(r'^((?:\[\[\w+\]\]\s*)*)(.*)$', l)
                l = mm.group(1) + 'SYNCBRIDGE_API ' + mm.group(2)
                changed = True
        out.append(l); i += 1
    if changed:
        text = '\n'.join(out)
        if '#include "syncbridge/export.h"' not in text:
            # after #pragma once, with the other syncbridge includes if any
            text = text.replace('#pragma once\n', '#pragma once\n\n#include "syncbridge/export.h"\n', 1)
        path.write_text(text)
        print('annotated', path)
for root in sys.argv[1:]:
    for p in sorted(pathlib.Path(root).glob('*.h')):
        if p.name in ('syncbridge.h', 'export.h'): continue
        annotate(p)
