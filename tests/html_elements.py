"""Reading a report page back in tests: the elements that carry data-* markers, with their text."""

from html.parser import HTMLParser


class Elements(HTMLParser):
    """Every element carrying one of `markers` (attribute names): its attributes, its text (whitespace collapsed)
    and, under key "row", the attributes of the <tr> it sits in. In document order."""

    def __init__(self, markers: tuple[str, ...]):
        super().__init__()
        self.markers, self.found, self._open, self.row = markers, [], [], {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.row = a
        keep = any(k in a for k in self.markers)
        if keep:
            a["row"] = self.row
            self.found.append(a)
        self._open.append(a if keep else None)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for a in self._open:
            if a is not None:
                a["text"] = " ".join((a.get("text", "") + " " + data).split())


def elements(html: str, markers: tuple[str, ...] = ("data-kind",)) -> list[dict]:
    p = Elements(markers)
    p.feed(html)
    return p.found
