// Shared by the sample programs: their --json reports are written by hand, without a library.
#pragma once

#include <string>

namespace syncbridge::samples {

// s as a JSON string literal: quotes and backslashes escaped, control characters as spaces.
inline std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\')
      o += '\\', o += ch;
    else if (static_cast<unsigned char>(ch) < 0x20)
      o += ' ';
    else
      o += ch;
  }
  return o + "\"";
}

}  // namespace syncbridge::samples
