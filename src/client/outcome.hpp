#pragma once
// How a client tool's run ended. The tools say what happened; the command layer (cli/) alone
// turns it into an exit status.

#include <cstdint>

namespace netecho::client {

enum class Outcome : std::uint8_t {
  ok,      // the run did what was asked
  failed,  // no (or a wrong) answer, errors counted, or a run that could not start
  error,   // ping's "other error": the run could not start (ping(8) tells it from no answer)
};

}  // namespace netecho::client
