"""The entry points' logic: source training, evaluation, few-shot, search, grid."""
