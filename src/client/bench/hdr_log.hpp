#pragma once
// bench --hdr-log: the measured latencies as an HdrHistogram interval log, the format that
// HdrHistogram's HistogramLogWriter writes and its tools (HistogramLogProcessor, wrk2's forks,
// hdr-histogram-js) read: header comment lines, the column legend, then one line per interval
// with its start (seconds after BaseTime), its length, its maximum and the histogram in the
// "compressed V2" encoding (the V2 encoding, zlib-deflated, base64).
//
// bench's Histogram has HdrHistogram's exact layout for 2 significant digits, a lowest
// discernible value of 1 and a highest trackable value of 60 s, in nanoseconds: 256 unit
// buckets, then 128 sub-buckets per power of two. Its bucket index is HdrHistogram's counts
// index, so the counts go over unchanged and a reader sees the same buckets. The unit is the
// nanosecond: readers must be told (HistogramLogProcessor -outputValueUnitRatio 1000000 prints
// milliseconds); the Interval_Max column is in milliseconds (ns / 10^6, the writer's default
// ratio).

#include <cstdint>
#include <string>

#include "client/bench/bench.hpp"
#include "client/histogram.hpp"

namespace netecho::client {

// The histogram in HdrHistogram's compressed V2 encoding, base64 (HISTF...).
std::string hdr_compressed_base64(const Histogram& h);

// The whole log of a run: the measured window as one interval (StartTime and BaseTime are when
// it began).
std::string hdr_interval_log(const BenchResult& r);

}  // namespace netecho::client
