//! Eyrie viewer engine without widgets (filled by the "Live preview" issue).
