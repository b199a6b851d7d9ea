"""The school file: one YAML document that describes the whole school (see school.example.yaml).

``parse_school(text)`` and ``load_school(path)`` return the immutable ``core.school.School``
or raise ``core.errors.SchoolFileError`` listing every problem as ``path: message``.
"""

from core.school_file.loader import load_school, parse_school

__all__ = ["load_school", "parse_school"]
