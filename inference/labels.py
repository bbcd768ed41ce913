"""Class keys, display names and the folder names that map to them."""

LABELS: tuple[str, ...] = ("myocardial_infarction", "abnormal_heartbeat", "history_of_mi", "normal")

DISPLAY_NAMES: dict[str, str] = {
    "myocardial_infarction": "Myocardial infarction",
    "abnormal_heartbeat": "Abnormal heartbeat",
    "history_of_mi": "History of myocardial infarction",
    "normal": "Normal ECG",
}

# Short folder names of the de-duplicated working copy and the original Mendeley folder names.
FOLDER_TO_LABEL: dict[str, str] = {
    "mi": "myocardial_infarction",
    "hb": "abnormal_heartbeat",
    "pmi": "history_of_mi",
    "normal": "normal",
    "ecg images of myocardial infarction patients": "myocardial_infarction",
    "ecg images of patient that have abnormal heartbeat": "abnormal_heartbeat",
    "ecg images of patient that have history of mi": "history_of_mi",
    "normal person ecg images": "normal",
}


def label_for_folder(name: str) -> str | None:
    """Map a class folder name (short or original Mendeley spelling) to a label key."""
    key = " ".join(name.strip().lower().replace("_", " ").split())
    key = key.removesuffix(" (1)")  # some unzip tools add this to a duplicated folder
    return FOLDER_TO_LABEL.get(key)
