// Reads an HdrHistogram interval log (bench --hdr-log) with hdr-histogram-js, an implementation
// independent of netecho's, and prints what it decoded as JSON: the total count, the intervals,
// and for each percentile asked on the command line the value hdr-histogram-js reports with the
// range of its bucket (the test checks that bench's own figure lies in it).
//   node decode.js LOG 50 90 99 ...
"use strict";
const fs = require("fs");
const hdr = require("hdr-histogram-js");

const [log, ...percentiles] = process.argv.slice(2);
const reader = new hdr.HistogramLogReader(fs.readFileSync(log, "utf8"), 64);
let all = null;
let intervals = 0;
for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
  intervals += 1;
  if (all === null) {
    all = h;
  } else {
    all.add(h);
  }
}
if (all === null) {
  console.error(`${log}: no interval histogram`);
  process.exit(1);
}
const out = {
  intervals,
  start_time_s: reader.startTimeSec,
  total_count: all.totalCount,
  significant_digits: all.numberOfSignificantValueDigits,
  max: all.maxValue,
  percentiles: {},
};
for (const p of percentiles) {
  const value = all.getValueAtPercentile(Number(p));
  out.percentiles[p] = {
    value,
    lowest: all.lowestEquivalentValue(value),
    highest: all.highestEquivalentValue(value),
  };
}
console.log(JSON.stringify(out));
