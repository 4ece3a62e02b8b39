"""The centre's weekly or monthly picture of posts (``cur-nlp report``): one self-contained HTML page and its
Markdown twin. See docs/incidents.md."""

from cur_nlp.report.html import render_html
from cur_nlp.report.markdown import render_markdown
from cur_nlp.report.summary import PERIODS, Period, Picture, build_picture

__all__ = ["PERIODS", "Period", "Picture", "build_picture", "render_html", "render_markdown"]
