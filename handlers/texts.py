"""Every user-facing chat text, in one place.

Texts quoted from the original 2024 specification are kept verbatim (marked SPEC). Messages are
sent with HTML parse mode, so any user-provided value must go through `html.escape` first.
"""

from __future__ import annotations

from accounts.limits import (
    ACTIVATION_TTL,
    CONVERSATION_TIMEOUT,
    LOCK_DURATION,
    RESET_CODE_DIGITS,
    RESET_CODE_MAX_ATTEMPTS,
    RESET_CODE_TTL,
    SESSION_TTL,
    hours,
    minutes,
)
from accounts.validation import PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN
from handlers.limits import MAX_DOWNLOAD_BYTES, MESSAGE_BURST, MESSAGES_PER_MINUTE, PREVIEW_TTL
from inference.image_io import MAX_PIXELS, MAX_SIDE, MIN_SIDE
from storage.digitized import TTL as DIGITIZED_TTL
from storage.history import RECENT as HISTORY_RECENT

_PASSWORD_RULE = (f"at least {PASSWORD_MIN} characters with an uppercase letter, a lowercase letter, a number and "
                  "a special character")

# --- Commands shown in the Telegram menu (setMyCommands) -------------------------------------
COMMANDS: list[tuple[str, str]] = [
    ("start", "What this bot does"),
    ("register", "Create an account"),
    ("login", "Log in with email and password"),
    ("logout", "End your session"),
    ("forgot", "Reset a forgotten password"),
    ("resend", "Send a fresh activation link"),
    ("password", "Change your password"),
    ("me", "Who am I logged in as"),
    ("history", f"Your last {HISTORY_RECENT} analyses (/history clear deletes them)"),
    ("learn", "Lessons: how to read an ECG"),
    ("quiz", "A practice question with feedback"),
    ("progress", "Your practice score and weak topics"),
    ("remind", "Daily practice question: /remind HH:MM or off"),
    ("share", "Instructors: lesson links to share"),
    ("addcase", "Instructors: add a diagnosis practice case"),
    ("mycases", "Instructors: your cases and how students answered"),
    ("help", "All commands"),
    ("cancel", "Leave the current step"),
]

# --- Welcome and help ------------------------------------------------------------------------
WELCOME = (
    "<b>ECG Analyzer</b> 🫀\n\n"
    "I help <b>medical students</b> learn to read ECGs and give <b>healthcare professionals</b> "
    "a second opinion on a photographed 12-lead ECG.\n\n"
    "• Send me a photo of a 12-lead ECG and I classify it (myocardial infarction, abnormal "
    "heartbeat, history of MI or normal) with my confidence and a heat map.\n"
    "• Students get lessons and practice questions with feedback.\n\n"
    "To begin: /register, or /login if you already have an account. /help lists everything."
)

HELP = (
    "<b>Commands</b>\n"
    "/register – create an account (medical student or healthcare professional)\n"
    "/login – log in with your email and password\n"
    "/logout – end your session\n"
    "/forgot – reset a forgotten password with a code sent by email\n"
    "/resend – send a fresh activation link (optionally <code>/resend you@example.com</code>)\n"
    "/password – change your password (your other sessions end)\n"
    "/me – show who you are logged in as\n"
    f"/history – your last {HISTORY_RECENT} analyses; <code>/history clear</code> deletes them\n"
    "/learn – lessons on reading ECGs (medical students)\n"
    "/quiz – a practice question with immediate feedback; /progress – your score and weak topics\n"
    "/remind <code>HH:MM</code> [time zone] – a practice question every day at that time, e.g. "
    "<code>/remind 07:30 Europe/Berlin</code>; <code>/remind off</code> stops it\n"
    "/share, /addcase, /mycases – for instructors: lesson links, practice cases and how students answered\n"
    "/cancel – leave whatever you are doing\n\n"
    f"Sessions last {hours(SESSION_TTL)} hours; I'll tell you when yours ends."
)

CANCELLED = "Cancelled. Nothing was saved. Send /help to see what I can do."
NOTHING_TO_CANCEL = "There is nothing to cancel. Send /help to see what I can do."

# --- Validation (SPEC, verbatim) -------------------------------------------------------------
VALIDATION = {
    "username_required": "Username is required",
    "username_too_short": f"Username must be at least {USERNAME_MIN} characters long",
    "username_too_long": f"Username must be at most {USERNAME_MAX} characters long",
    "email_required": "Email is required",
    "email_invalid": "Please enter a valid email",
    "password_required": "Password is required",
    "password_weak": (
        f"Password must contain at least {PASSWORD_MIN} characters, one uppercase letter, one lowercase letter, "
        "one number, and one special character"
    ),
    "confirm_required": "Confirm password is required",
    "confirm_mismatch": "Confirm password must match the password",
}

# --- Registration ----------------------------------------------------------------------------
ASK_USERNAME = f"Let's create your account. Choose a <b>username</b> ({USERNAME_MIN}–{USERNAME_MAX} characters):"
ASK_EMAIL = "Your <b>email</b> address? I'll send the activation link there."
ASK_PASSWORD = f"Choose a <b>password</b>: {_PASSWORD_RULE}. I delete your message as soon as I've read it."
ASK_CONFIRM = "Type the password again to <b>confirm</b> it:"
ASK_ROLE = "Last step: are you a medical student or a healthcare professional?"
ROLE_BUTTON_STUDENT = "Medical student"
ROLE_BUTTON_PROFESSIONAL = "Healthcare professional"
ROLE_NAMES = {
    "medical_student": "medical student",
    "healthcare_professional": "healthcare professional",
}
ROLE_PLEASE_PRESS = "Please choose one of the two buttons."
EMAIL_TAKEN = (
    "An account with this email already exists. Use /login (or /forgot if you lost the password), "
    "or send a different email:"
)
ALREADY_LOGGED_IN = "You are already logged in as <b>{username}</b>. Send /logout first."
REGISTERED = (
    "✅ Account created for <b>{username}</b>.\n\n"
    "I've emailed an activation link to <b>{email}</b>. Open it within %d hours to activate your "
    "account, then /login. No email? Check spam, or send /resend." % hours(ACTIVATION_TTL)
)

# --- Activation ------------------------------------------------------------------------------
ACTIVATED = "🎉 Your account <b>{username}</b> is active. Send /login to sign in."
TOKEN_EXPIRED = (f"This activation link has expired (links are valid for {hours(ACTIVATION_TTL)} hours). "
                 "Send /resend for a fresh one.")
TOKEN_USED = "This activation link was already used. If your account is active, just /login."
TOKEN_UNKNOWN = "This activation link is not valid (maybe a newer one replaced it). Send /resend for a fresh one."
RESENT = "I've sent a fresh activation link to <b>{email}</b>. Older links no longer work."
RESEND_NOTHING = (
    "I found no account waiting for activation. If you registered with another Telegram account, "
    "send <code>/resend your@email.com</code>; if you are already active, /login."
)
RESEND_THROTTLED = (
    "I've already sent several activation links within the hour, so I'm not sending another yet — the "
    "latest one still works. Please check your inbox and spam folder; you can ask again after {until} UTC."
)
# /resend ADDRESS: the same answer whether or not the address has an account waiting (no enumeration).
RESENT_IF_WAITING = (
    "If an account registered with <b>{email}</b> is waiting for activation, I've sent it a fresh activation "
    "link (older links no longer work). No email? Check spam, or wait a few minutes."
)

# --- Login / logout / sessions ---------------------------------------------------------------
ASK_LOGIN_EMAIL = "Your <b>email</b>?"
ASK_LOGIN_PASSWORD = "Your <b>password</b>? (I delete it from the chat as soon as I've read it.)"
LOGIN_UNKNOWN_EMAIL = "data invalid"  # SPEC
LOGIN_WRONG_PASSWORD = "invalid password"  # SPEC
LOGIN_NOT_ACTIVATED = "plz confirm your email"  # SPEC
LOGIN_NOT_ACTIVATED_HINT = "Open the activation link I emailed you, or send /resend for a new one."
LOGIN_ATTEMPTS_LEFT = ("{n} attempt(s) left before the account is locked for %d minutes. Password again:"
                       % minutes(LOCK_DURATION))
LOGIN_LOCKED = (
    "🔒 Too many failed attempts: this account is locked for %d minutes (until {until} UTC). "
    "Forgot your password? /forgot" % minutes(LOCK_DURATION)
)
LOGGED_IN = (
    "Welcome, <b>{username}</b>! You're logged in as a <b>{role}</b>.\n"
    "Your session lasts %d hours (until {until} UTC). Send an ECG photo, or /help." % hours(SESSION_TTL)
)
LOGGED_OUT = "You're logged out. See you soon!"
PLEASE_LOGIN = "Please /login first"  # SPEC
SESSION_EXPIRED = "Your session has expired — please /login again"  # SPEC
SESSION_ENDED_BY_RESET = "Your password was changed, so this session has ended. Please /login again."
WHOAMI = "You're logged in as <b>{username}</b> ({role}){instructor}. Session ends {until} UTC."
WHOAMI_INSTRUCTOR = ", instructor"

# --- Password reset --------------------------------------------------------------------------
ASK_RESET_EMAIL = "Which <b>email</b> is your account registered with?"
RESET_CODE_SENT = (
    "If an account exists for <b>{email}</b>, I've emailed it a %d-digit code, valid for %d minutes.\n"
    "Send the code here:" % (RESET_CODE_DIGITS, minutes(RESET_CODE_TTL))
)
RESET_CODE_INVALID = "That code isn't right. {n} attempt(s) left. Send the code again:"
RESET_CODE_EXPIRED = "This code has expired or is no longer valid. Send /forgot to get a new one."
ASK_NEW_PASSWORD = f"Code accepted. Choose a <b>new password</b> ({_PASSWORD_RULE}):"
ASK_NEW_CONFIRM = "Type the new password again to <b>confirm</b> it:"
PASSWORD_CHANGED = "🔑 Your password has been changed and all your sessions were ended. Send /login to sign in."

# --- Password change (/password, logged in) --------------------------------------------------
ASK_CURRENT_PASSWORD = "Your <b>current password</b>? (I delete it from the chat as soon as I've read it.)"
ASK_CHANGED_PASSWORD = f"Choose a <b>new password</b> ({_PASSWORD_RULE}):"
PASSWORD_CHANGED_HERE = ("🔑 Your password has been changed. Your other sessions were ended; you stay logged in "
                         "here. I've emailed you a note about the change.")

# --- Abuse and faults ------------------------------------------------------------------------
SLOW_DOWN_ACCOUNT = ("⏳ Too many attempts from your Telegram account. Please try again after {until} UTC "
                     "(or /forgot if you lost your password).")
PRIVATE_ONLY = ("I work in private chats only, so that passwords and diagnoses stay private. Open a chat with me "
                "(tap my name, then Message) and send /start there. I won't answer in this group.")
BUTTON_NOT_YOURS = "This button belongs to someone else's message."
CONVERSATION_TIMED_OUT = (f"⌛ No answer for {minutes(CONVERSATION_TIMEOUT)} minutes, so I stopped what we were "
                          "doing; nothing was kept. Start again whenever you like (/help).")

# --- Failures --------------------------------------------------------------------------------
DATABASE_DOWN = (
    "⚠️ My database is unavailable right now. Nothing you've sent is lost — please try the same "
    "step again in a minute."
)
SLOW_DOWN = (f"🐢 You are sending messages faster than I can answer (at most {MESSAGE_BURST} in a row, "
             f"{MESSAGES_PER_MINUTE} a minute). Please wait {{seconds}} s, then send it again.")
INTERNAL_ERROR = "⚠️ Something went wrong on my side. Please try again; if it keeps happening, /cancel and start over."
NOT_UNDERSTOOD = "Send me an ECG as a photo or an image file to analyse it, or /help for everything I can do."
UNKNOWN_COMMAND = "I don't know that command. Send /help to see what I can do."
IN_CONVERSATION = "You're in the middle of something: answer the question above, or send /cancel to stop."
RESET_CODE_VOIDED = (f"That code isn't right, and after {RESET_CODE_MAX_ATTEMPTS} wrong tries it no longer works. "
                     "Send /forgot to get a new one.")
BUTTON_STALE = "This button no longer works. Send /help to see what I can do."

# --- ECG upload and diagnosis ----------------------------------------------------------------
ACCEPTED_FORMATS = "Send the ECG as a photo, or as a JPG, JPEG or PNG image file."
EXTENSION_NOT_ALLOWED = "image file extension is not allowed"  # SPEC
FILE_TOO_LARGE = (
    "This file is {size_mb:.0f} MB; I can download files up to %d MB. Send a smaller photo or image "
    "file of the ECG." % (MAX_DOWNLOAD_BYTES // 2**20)
)
PREVIEW_CAPTION = "Is this the ECG you want analysed?"
CONFIRM_BUTTON = "Confirm"
CANCEL_BUTTON = "Cancel"
PREVIEW_REPLACED = "You sent a new image, so it replaces the one that was waiting for confirmation."
PREVIEW_CANCELLED = "Cancelled — nothing was analysed or kept."
PREVIEW_GONE = "This preview is no longer active. Send the ECG again."
PREVIEW_EXPIRED = (f"This preview expired ({minutes(PREVIEW_TTL)} minutes without an answer). Send the ECG again "
                   "when you're ready.")
PHOTO_TIP = (
    "💡 Telegram compresses photos to about 1280 px. For the sharpest result send the ECG as a "
    "<b>file</b> (📎 → File): the whole page, flat, in good light, without shadows or glare."
)
PHOTO_TOO_SMALL = (
    "⚠️ This photo is only {width}×{height} px, which may be too small to read the tracing. "
    "If you can, send the ECG as a <b>file</b> (📎 → File): whole page, flat, good light."
)
CONFIRM_ANSWER = "⏳ Analysing your ECG…"
PROGRESS_DOWNLOADING = "⏳ Downloading the image…"
PROGRESS_CHECKING = "✅ Downloaded\n⏳ Checking the image…"
PROGRESS_QUEUED = "✅ Downloaded\n✅ Checked\n⏳ Waiting for the analyser — place {position} in the queue…"
PROGRESS_ANALYSING = "✅ Downloaded\n✅ Checked\n⏳ Analysing the ECG…"
PROGRESS_DONE = "✅ Downloaded\n✅ Checked\n✅ Analysed"
DOWNLOAD_FAILED = "⚠️ I couldn't download the image from Telegram. Please send it again."
IMAGE_REFUSED = "⚠️ I can't analyse this image.\n\n{details}"
ANALYSIS_INTERRUPTED = ("⚠️ I was restarted while analysing this ECG, so its analysis was interrupted. "
                        "Press Confirm to analyse it again.")
ANALYSIS_FAILED = "⚠️ The analysis failed on my side. Nothing was saved — please send the ECG again in a moment."
QUEUE_FULL = "⚠️ Too many ECGs are being analysed right now. Please send yours again in a minute."
MODEL_UNAVAILABLE = "⚠️ The diagnosis model is not available on this server right now. Please try again later."
RESULT = "<b>{name}</b> — confidence {confidence:.0%}\n\n<pre>{chart}</pre>"
RESULT_UNCERTAIN = (
    "<b>Uncertain</b> — I can't tell confidently. The two most likely readings are "
    "<b>{first}</b> ({p1:.0%}) and <b>{second}</b> ({p2:.0%}).\n\n<pre>{chart}</pre>"
)
NOT_AN_ECG = "Medical diagnosis not available for the ECG image"  # SPEC
NOT_AN_ECG_DETAILS = "Why: {reason}\n\nTips: {tips}"
DISCLAIMER = (
    "<i>Educational aid trained on one hospital's printouts; not a medical device. Confirm with a "
    "qualified clinician.</i>"
)
# Why a picture was not read (the reason codes of inference.reading) and how to retake it.
RETAKE_PHOTO = (
    "Lay the printout flat, get the whole sheet in the frame with a little margin, in good even light "
    "without glare or shadows, and hold the phone still, straight above the page."
)
RETAKE_FILE = "Send a JPEG or PNG image (8-bit colour or grey, not animated), ideally as a file (📎 → File)."
REFUSALS: dict[str, tuple[str, str]] = {
    "not_image": ("this file is not a JPEG or PNG image I can open, or it is damaged.", RETAKE_FILE),
    "too_large": (f"the picture is too large (over {MAX_SIDE:,} px a side or {MAX_PIXELS // 1_000_000} megapixels).",
                  "Send a normal phone photo or a scan at up to 300 dpi. " + RETAKE_FILE),
    "too_small": (f"the picture is too small to read the tracing (the shorter side needs {MIN_SIDE} px).",
                  "Send the full-size photo or scan, as a file (📎 → File) so it is not shrunk. " + RETAKE_PHOTO),
    "bad_aspect": ("the picture is not the shape of a page (far too long and narrow).",
                   "Photograph or scan the whole ECG sheet, not a strip or a screenshot of part of it."),
    "animated": ("this is an animated image.", RETAKE_FILE),
    "deep_image": ("this is a 16-bit or floating-point image.", "Save it as an ordinary 8-bit JPEG or PNG. " + RETAKE_FILE),
    "no_sheet": ("I can't find the ECG sheet in the picture.", RETAKE_PHOTO),
    "cut_off": ("part of the ECG sheet is outside the picture.",
                "Step back a little so all four edges of the sheet are in the frame. " + RETAKE_PHOTO),
    "sheet_too_small": ("the ECG sheet fills too little of the picture to read the tracing.",
                        "Come closer so the sheet fills most of the frame (all edges still visible). " + RETAKE_PHOTO),
    "too_dark": ("the picture is too dark to read the tracing.",
                 "Take it in brighter, even light (daylight or a ceiling light, no flash glare). " + RETAKE_PHOTO),
    "blurred": ("the picture is blurred, so the tracing can't be followed.",
                "Hold the phone still and let it focus (tap the page on the screen) before you take it. " + RETAKE_PHOTO),
    "not_ecg": ("this doesn't look like a 12-lead ECG printout.",
                "Send a standard 12-lead ECG printout (3 x 4 leads and a rhythm strip on pink grid paper). "
                + RETAKE_PHOTO),
    "unoriented": ("I found the ECG sheet but can't tell which way up it is (its calibration marks and header "
                   "aren't clear).",
                   "Photograph the whole sheet the right way up, with the header at the top. " + RETAKE_PHOTO),
    "untraceable": ("I found the ECG sheet, but too few of its 12 leads could be traced.",
                    "Avoid glare, shadows and folds across the tracing. " + RETAKE_PHOTO),
}
REFUSAL_FALLBACK = ("{detail}.", RETAKE_PHOTO)  # a code without its own text: the technical detail
# Which rule of inference.ecg_check refused the picture as "not_ecg", shown in brackets after its text.
NOT_ECG_REASONS = {
    "not_landscape": "not a landscape page (a 12-lead printout is wider than tall)",
    "not_paper": "not mostly white paper",
    "no_traces": "no ECG traces in the trace area",
    "broken_traces": "no continuous traces across the trace rows",
    "not_single_traces": "the trace rows hold text or texture, not single traces",
    "not_waveforms": "the lines in the trace rows are not continuous waveforms",
    "coloured_traces": "the lines in the trace rows are coloured, not a printout's black trace",
}
UNREADABLE_DETAIL = "the picture could not be read"

# --- What the digitizer measured (shown under the diagnosis) ----------------------------------
MEASURED_HEADER = "<b>What I measured</b> (read off the tracing by software — check it on the paper)"
MEASURED_RATE = "Heart rate: {bpm:.0f} bpm"
MEASURED_RHYTHM = {"regular": "regular", "irregular": "irregular", "irregularly_irregular": "irregularly irregular"}
MEASURED_RATE_RHYTHM = "Heart rate: {bpm:.0f} bpm, {rhythm}"
MEASURED_RHYTHM_ONLY = "Rhythm: {rhythm}"
MEASURED_INTERVAL = "{name}: {ms:.0f} ms"
MEASURED_QT = "QT/QTc: {qt:.0f}/{qtc:.0f} ms (Bazett)"
MEASURED_QT_ONLY = "QT: {qt:.0f} ms"
MEASURED_AXIS = "Axis: {axis:+.0f}°"
MEASURED_FINDING = "{kind} ≥ 1 mm, {territory} ({leads}): up to {mm:.1f} mm"
MEASURED_Q = "Pathological Q waves, {territory} ({leads})"
MEASURED_KINDS = {"st_elevation": "ST elevation", "st_depression": "ST depression"}
MEASURED_TERRITORIES = {"inferior": "inferior", "anterior": "anterior", "lateral": "lateral", "other": "other leads"}
MEASURED_NOTHING = "I couldn't measure rate or intervals reliably on this tracing."

# --- Why the diagnosis (inference.explain reasons, shown under the diagnosis) -----------------
WHY_HEADER = "<b>Why</b>"
WHY = {
    "st_elevation_reciprocal": "ST elevation {mm:.1f} mm in {leads} with reciprocal depression in {reciprocal}: "
                               "{territory} acute MI pattern",
    "st_elevation": "ST elevation {mm:.1f} mm in {leads}: {territory} acute MI pattern",
    "st_depression": "ST depression {mm:.1f} mm in {leads} ({territory}): ischaemia, or the mirror of an MI elsewhere",
    "pathological_q": "Pathological Q waves in {leads}: old {territory} infarction",
    "t_inversion": "T-wave inversion in {leads}",
    "irregularly_irregular": "Irregularly irregular rhythm (as in atrial fibrillation)",
    "irregular": "Irregular rhythm (premature or dropped beats)",
    "tachycardia": "Tachycardia: {bpm} bpm",
    "bradycardia": "Bradycardia: {bpm} bpm",
    "wide_qrs": "Wide QRS: {ms} ms (bundle branch block or ventricular origin)",
    "long_pr": "Long PR: {ms} ms (first-degree AV block)",
    "normal": "Regular rhythm at {bpm} bpm, no ST deviation ≥ {mm} mm, no pathological Q waves",
    "no_typical_signs": "I measured none of the typical signs of this class: the model's call rests on subtler "
                        "features — check the tracing yourself",
}

EXPORT_BUTTON = "📈 Digitized ECG (PNG + CSV)"
EXPORT_GONE = (
    f"This digitized ECG is no longer available (kept {DIGITIZED_TTL.total_seconds() / 3600:.0f} hours). "
    "Send the ECG again."
)
EXPORT_CAPTION = "The 12-lead as I read it, re-plotted at 25 mm/s and 10 mm/mV. Compare it with your printout."
EXPORT_CSV_CAPTION = (
    "The signals in mV at 500 Hz (t_s = time on the 10 s page; each lead only in its own 2.5 s window, "
    "empty where it wasn't traced; rhythm = the 10 s strip{rhythm_lead})."
)
EXPORT_RHYTHM_LEAD = ", lead {lead}"

HEATMAP_CAPTION = "Heat map: the areas of the tracing that weighed most in the result ({name})."
HEATMAP_MARKED = " Outlined in magenta: {leads}, where the signs behind it were measured."
EXPLAIN_BUTTON = "Explain this diagnosis"
HISTORY_EMPTY = "You have no analyses yet. Send an ECG photo to start."
HISTORY_HEADER = "<b>Your last analyses</b> (newest first):"
HISTORY_LINE = "{date} — {name} ({confidence})"
HISTORY_NOT_ECG = "not an ECG"
HISTORY_CLEARED = "Your analysis history is cleared ({n} removed)."

# --- Lessons and practice --------------------------------------------------------------------
LEARN_HEADER = "<b>Lessons</b> 📚\nChoose a lesson; each one reads in short pages with Back / Next."
LESSONS_STUDENTS_ONLY = (
    "Lessons and practice questions are made for <b>medical students</b> (and their instructors), "
    "so they aren't part of a healthcare professional's account. You can still send me an ECG for "
    "a second opinion at any time."
)
LESSON_UNKNOWN = "I can't find that lesson (maybe it was renamed). Send /learn to see all lessons."
LESSON_PAGE_HEADER = "<b>{title}</b> · page {page}/{pages}\n\n"
LESSON_BACK = "◀ Back"
LESSON_NEXT = "Next ▶"
LESSON_ALL = "☰ All lessons"
LESSON_LINK_LOGIN = (
    "This link opens the lesson <b>{title}</b>. Please /login first (or /register if you're new) — "
    "I'll open the lesson right after you log in."
)
SHARE_HEADER = "<b>Lesson links</b> to share with your students (each opens the lesson in this chat):"
SHARE_LINE = "• {title}\n{link}"
INSTRUCTORS_ONLY = (
    "This command is for instructors. An instructor account is set up by the operator of this bot; "
    "ask them if you teach."
)

QUIZ_DRILL_CAPTION = "❓ {question}"
QUIZ_CASE_CAPTION = "❓ Which diagnosis fits this ECG best?"
QUIZ_STALE = "This question was already answered or replaced by a newer one."
QUIZ_CASE_GONE = "This case was removed by its instructor. Send /quiz for another question."
QUIZ_RIGHT = "✅ <b>Right!</b> {answer}"
QUIZ_WRONG = "❌ <b>Not quite.</b> You chose {chosen}; the answer is <b>{answer}</b>."
QUIZ_WHY = "<b>Why:</b> {explanation}"
QUIZ_READ = "📖 Read more: <b>{title}</b>"
QUIZ_SCORE = "Score <b>{score}</b> · streak {streak} · {correct}/{answered} right"
QUIZ_NEXT_BUTTON = "Next question ▶"
QUIZ_LESSON_BUTTON = "📖 Open the lesson"
PROGRESS = (
    "<b>Your practice</b>\n"
    "Score: <b>{score}</b>\n"
    "Answered: {answered} ({accuracy:.0%} right)\n"
    "Streak: {streak} (best {best_streak})"
)
PROGRESS_NONE = "You haven't answered any practice questions yet. Send /quiz to start."
PROGRESS_MISSED = "\n\n<b>Topics you miss most</b>\n{lines}"
PROGRESS_MISSED_LINE = "• {topic}: {count} wrong"
TOPIC_NAMES = {
    "rate": "Heart rate",
    "regularity": "Rhythm regularity",
    "qrs_width": "QRS width",
    "pr_interval": "PR interval",
    "myocardial_infarction": "Diagnosis: myocardial infarction",
    "abnormal_heartbeat": "Diagnosis: abnormal heartbeat",
    "history_of_mi": "Diagnosis: history of MI",
    "normal": "Diagnosis: normal ECG",
}

REMIND_USAGE = (
    "Send <code>/remind HH:MM</code> (24-hour) and, the first time, your time zone — e.g. "
    "<code>/remind 07:30 Europe/Berlin</code> or <code>/remind 19:00 New York</code> — to get one practice "
    "question every day at that time (UTC if you give no zone), or <code>/remind off</code> to stop."
)
REMIND_SET = "⏰ Done: a practice question every day at <b>{time} {tz}</b>. <code>/remind off</code> stops it."
REMIND_CURRENT = "⏰ Your daily practice question comes at <b>{time} {tz}</b>. <code>/remind off</code> stops it."
REMIND_NONE = "You have no daily reminder. " + REMIND_USAGE
REMIND_OFF = "Daily reminder stopped."
REMIND_BAD_TIME = "That isn't a time I understand. " + REMIND_USAGE
REMIND_BAD_ZONE = (
    "I don't know the time zone <b>{zone}</b>. Use a name like <code>Europe/Berlin</code>, "
    "<code>America/New_York</code>, <code>Asia/Kolkata</code>, a city such as <code>Cairo</code>, or <code>UTC</code>."
)
REMIND_INTRO = "⏰ Your daily ECG practice question:"

ADDCASE_ASK_IMAGE = (
    "New practice case. Send the <b>ECG image</b> (a photo, or a JPG/PNG file). /cancel stops."
)
ADDCASE_NOT_IMAGE = "Please send the ECG as a photo or a JPG/PNG image file (or /cancel)."
ADDCASE_ASK_LABEL = "What is the <b>correct diagnosis</b> for this ECG?"
ADDCASE_PRESS_BUTTON = "Please choose the diagnosis with one of the buttons (or /cancel)."
ADDCASE_ASK_EXPLANATION = (
    "Correct class: <b>{label}</b>.\nNow the <b>explanation</b> students see after answering "
    "(what to look for; up to {limit} characters):"
)
ADDCASE_EXPLANATION_BAD = "The explanation must be 1 to {limit} characters of text. Please send it again:"
ADDCASE_SAVED = (
    "✅ Case <code>{id}</code> saved ({label}). Students will meet it in /quiz; /mycases lists your cases."
)
MYCASES_NONE = "You have no practice cases yet. /addcase adds one."
MYCASES_HEADER = "<b>Your practice cases</b> ({n}):"
MYCASES_LINE = (
    "\n<code>{id}</code> · <b>{label}</b> · added {date}\n"
    "<i>{explanation}</i>\n"
    "Answers: {total} ({right} right){breakdown}"
)
MYCASES_BREAKDOWN = " — chose: {parts}"
MYCASES_REMOVE_BUTTON = "🗑 Remove {id}"
MYCASES_REMOVED = "Case <code>{id}</code> removed."
MYCASES_NOT_FOUND = "That case is already gone."
