#!/bin/sh
# Draws the CSV of `ipc-bench --csv` as an SVG chart, on standard output:
#
#   sh bench/plot.sh bench/results.csv > bench/results.svg
#
# Three panels, log scales: the 64-byte round trip of every mechanism on
# one CPU and on two (with the cache-line floor), then the streaming
# throughput of every message size on two CPUs and on one (with the memcpy
# ceiling). POSIX sh and awk only.
set -eu
if [ $# -ne 1 ] || [ ! -r "$1" ]; then
	echo "usage: sh bench/plot.sh RESULTS.csv > RESULTS.svg" >&2
	exit 2
fi

awk -F, '
function log10(v) { return log(v) / log(10) }
function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); return s }
# x position of value v on a log axis from 10^lo to 10^hi
function xpos(v, lo, hi) { return LEFT + (log10(v) - lo) / (hi - lo) * WIDTH }
function axis(top, height, lo, hi, unit,    e, x, label) {
	for (e = lo; e <= hi; e++) {
		x = xpos(10 ^ e, lo, hi)
		label = unit == "ns" ? duration(10 ^ e) : human(10 ^ e * 1e6) "B/s"
		printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x, top, x, top + height
		printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%s</text>\n", x, top + height + 14, label
	}
}
function marker(top, height, v, lo, hi, text,    x) {
	x = xpos(v, lo, hi)
	printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\n", x, top - 4, x, top + height
	printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"mark\">%s</text>\n", x, top - 7, esc(text)
}
function bar(y, h, v, lo, hi, color, text,    x) {
	x = xpos(v, lo, hi)
	printf "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", LEFT, y, x - LEFT, h, color
	printf "<text x=\"%.1f\" y=\"%.1f\" class=\"value\">%s</text>\n", x + 3, y + h - 1.5, text
}
function range(kind, field,    k, v, lo, hi) {
	lo = 1e30; hi = 0
	for (k in have) if (index(k, kind) == 1) {
		v = have[k] + 0
		if (v > 0 && v < lo) lo = v
		if (v > hi) hi = v
	}
	LO = int(log10(lo)); if (10 ^ LO > lo) LO--
	HI = int(log10(hi)); if (10 ^ HI < hi) HI++
	if (HI <= LO) HI = LO + 1
}
function duration(ns) {
	return ns >= 1e6 ? sprintf("%.3g ms", ns / 1e6) : ns >= 1e3 ? sprintf("%.3g µs", ns / 1e3) : sprintf("%.3g ns", ns)
}
function human(v) {
	return v >= 1e9 ? sprintf("%.3g G", v / 1e9) : v >= 1e6 ? sprintf("%.3g M", v / 1e6) : v >= 1e3 ? sprintf("%.3g k", v / 1e3) : sprintf("%.3g ", v)
}
NR == 1 {
	for (i = 1; i <= NF; i++) col[$i] = i
	if (!("rtt_median_ns" in col) || !("mb_per_s" in col)) { print "plot.sh: not an ipc-bench CSV" > "/dev/stderr"; exit 2 }
	next
}
{
	m = $col["mechanism"]; p = $col["placement"]; b = $col["message_bytes"]
	rtt = $col["rtt_median_ns"]; mb = $col["mb_per_s"]
	if (m == "memcpy") {
		if (mb != "" && mb + 0 > ceiling[b]) ceiling[b] = mb + 0
		if (b + 0 > biggest) biggest = b + 0
		next
	}
	if (!(m in seen)) { seen[m] = 1; mech[++nmech] = m }
	if (rtt != "") {
		# the references appear twice (before and after): keep the best
		k = "rtt" SUBSEP m SUBSEP p
		if (!(k in have) || rtt + 0 < have[k]) have[k] = rtt + 0
	}
	if (mb != "" && m != "cacheline") {
		if (!(b in sizeseen)) { sizeseen[b] = 1; size[++nsize] = b }
		have["mb" SUBSEP m SUBSEP p SUBSEP b] = mb + 0
	}
}
END {
	LEFT = 130; WIDTH = 640; BAR = 7; GAP = 6
	color[1] = "#4c72b0"; color[2] = "#dd8452"; color[3] = "#55a868"; color[4] = "#8172b3"
	color[5] = "#937860"; color[6] = "#da8bc3"; color[7] = "#8c8c8c"; color[8] = "#ccb974"
	for (i = 1; i <= nsize; i++) for (j = i + 1; j <= nsize; j++)
		if (size[j] + 0 < size[i] + 0) { t = size[i]; size[i] = size[j]; size[j] = t }
	h1 = nmech * (2 * BAR + GAP); h2 = nmech * (nsize * BAR + GAP)
	total = 40 + (h1 + 80) + 2 * (h2 + 80) + 20
	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"%d\" viewBox=\"0 0 900 %d\" font-family=\"sans-serif\">\n", total, total
	print "<style>.title{font-size:14px;font-weight:bold}.tick{font-size:10px;fill:#555}.name{font-size:11px}.value{font-size:9px;fill:#333}.mark{font-size:10px;fill:#c00}.key{font-size:10px}</style>"
	print "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
	print "<text x=\"450\" y=\"22\" text-anchor=\"middle\" class=\"title\">ipc-bench: IPC between two processes (log scales; shorter is better on top, longer below)</text>"

	# Panel 1: round trip
	top = 70
	range("rtt" SUBSEP)
	printf "<text x=\"%d\" y=\"%d\" class=\"title\">64-byte round trip, median</text>\n", LEFT, top - 24
	axis(top, h1, LO, HI, "ns")
	if (("rtt" SUBSEP "cacheline" SUBSEP "cross-cpu") in have)
		marker(top, h1, have["rtt" SUBSEP "cacheline" SUBSEP "cross-cpu"], LO, HI, "floor: cache line")
	y = top
	for (i = 1; i <= nmech; i++) {
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"name\">%s</text>\n", LEFT - 6, y + BAR + 4, esc(mech[i])
		split("same-cpu cross-cpu", pl, " ")
		for (j = 1; j <= 2; j++) {
			k = "rtt" SUBSEP mech[i] SUBSEP pl[j]
			if (k in have) bar(y, BAR - 1, have[k], LO, HI, j == 1 ? "#9ecae1" : "#3182bd", duration(have[k]))
			y += BAR
		}
		y += GAP
	}
	printf "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"8\" fill=\"#9ecae1\"/><text x=\"%d\" y=\"%d\" class=\"key\">same CPU</text>\n", 790, top, 804, top + 8
	printf "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"8\" fill=\"#3182bd\"/><text x=\"%d\" y=\"%d\" class=\"key\">two CPUs</text>\n", 790, top + 14, 804, top + 22

	# Panels 2 and 3: throughput
	range("mb" SUBSEP)
	for (b in ceiling) if (ceiling[b] > 10 ^ HI) HI = int(log10(ceiling[b])) + 1
	top += h1 + 80
	split("cross-cpu same-cpu", pl, " ")
	for (j = 1; j <= 2; j++) {
		printf "<text x=\"%d\" y=\"%d\" class=\"title\">one-way streaming, %s</text>\n", LEFT, top - 24, j == 1 ? "processes on two CPUs" : "both processes on one CPU"
		axis(top, h2, LO, HI, "MB/s")
		if (biggest) marker(top, h2, ceiling[biggest], LO, HI, "ceiling: memcpy " biggest / 1048576 " MiB")
		y = top
		for (i = 1; i <= nmech; i++) {
			if (mech[i] == "cacheline") continue
			printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"name\">%s</text>\n", LEFT - 6, y + nsize * BAR / 2 + 4, esc(mech[i])
			for (s = 1; s <= nsize; s++) {
				k = "mb" SUBSEP mech[i] SUBSEP pl[j] SUBSEP size[s]
				if (k in have && have[k] > 0) bar(y, BAR - 1, have[k], LO, HI, color[s], human(have[k] * 1e6) "B/s")
				y += BAR
			}
			y += GAP
		}
		for (s = 1; s <= nsize; s++)
			printf "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"8\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" class=\"key\">%s B</text>\n", 790, top + (s - 1) * 14, color[s], 804, top + (s - 1) * 14 + 8, size[s]
		top += h2 + 80
	}
	print "</svg>"
}
' "$1"
