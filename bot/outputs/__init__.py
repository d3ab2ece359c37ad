"""Generated files back into the thread, and the code that ran."""
