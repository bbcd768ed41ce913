"""Teaching content and practice logic (no Telegram, no database).

- content.lessons   – Markdown lessons (content/lessons/*.md): load_lessons, get_lesson,
                      LESSON_FOR_LABEL, markdown_to_telegram_html, deep_link_payload
- content.figures   – figures drawn by code: FIGURES, render_figure(name) -> PNG bytes
- content.ecgsynth  – synthetic ECG with known parameters, render_strip, measure_signal/measure_png
- content.drills    – measurement drills: generate_drill, drill_from_id, check_answer
- content.practice  – scores, streaks, Leitner spaced repetition: PracticeState, record_answer, pick_next;
                      instructors' cases (Case, EXPLANATION_LIMIT)
- content.reminders – daily practice reminders: Reminder, parse_hhmm, parse_timezone

Their repositories are in storage.practice.
"""
