#!/bin/sh
# Draws the CSV of `ipc-bench --csv` as an SVG chart, on standard output:
#
#   sh bench/plot.sh bench/results.csv [bench/results.machine] > bench/results.svg
#
# Three panels, log scales: the 64-byte round trip of every mechanism on
# one CPU and on two (with the cache-line floor), then the streaming
# throughput against the message size, one curve per mechanism, on two
# CPUs (with the spin ring, the limit of a cross-process stream, and the
# checker's own rate) and on one. The second file, if given, holds the
# run's machine line (what ipc-bench prints first), shown under the title.
# POSIX sh and awk only.
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -r "$1" ]; then
	echo "usage: sh bench/plot.sh RESULTS.csv [MACHINE-LINE-FILE] > RESULTS.svg" >&2
	exit 2
fi
machine=
if [ $# -eq 2 ]; then
	machine=$(head -n 1 "$2")
fi

awk -F, -v machine="$machine" '
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
	m = $col["mechanism"]; p = $col["placement"]; b = $col["message_bytes"] + 0
	rtt = $col["rtt_median_ns"]; mb = $col["mb_per_s"]
	if (m == "memcpy" || m == "generator") next
	if (rtt != "" && b == 64) {
		if (!(m in seen)) { seen[m] = 1; mech[++nmech] = m }
		# the references appear more than once (before, between, after): keep the best
		k = "rtt" SUBSEP m SUBSEP p
		if (!(k in have) || rtt + 0 < have[k]) have[k] = rtt + 0
	}
	if (mb != "" && mb + 0 > 0 && m != "cacheline") {
		if (!(m in curve)) { curve[m] = 1; cname[++ncurve] = m }
		if (b < smin || smin == 0) smin = b
		if (b > smax) smax = b
		k = "mb" SUBSEP m SUBSEP p SUBSEP b
		# the spin ring appears three times: keep the best
		if (!(k in have) || mb + 0 > have[k]) have[k] = mb + 0
		sizes[b] = 1
	}
}
# x position of a message size on a log-2 axis from smin to smax
function sx(b) { return LEFT + (log(b / smin) / log(smax / smin > 1 ? smax / smin : 2)) * WIDTH }
function curves(top, height, place,    i, j, m, b, k, x, y, path, dash, c, n, ys, ky) {
	for (b in sizes) {
		x = sx(b)
		printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>\n", x, top, x, top + height
		printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%s</text>\n", x, top + height + 14, bytes(b)
	}
	for (e = LO; e <= HI; e++) {
		y = top + height - (e - LO) / (HI - LO) * height
		printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", LEFT, y, LEFT + WIDTH, y
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%sB/s</text>\n", LEFT - 4, y + 3, human(10 ^ e * 1e6)
	}
	printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"axis\">message size (bytes, log scale)</text>\n", LEFT + WIDTH / 2, top + height + 30
	printf "<text transform=\"translate(%d,%d) rotate(-90)\" text-anchor=\"middle\" class=\"axis\">one-way throughput (log scale)</text>\n", LEFT - 62, top + height / 2
	n = 0
	for (i = 1; i <= ncurve; i++) {
		m = cname[i]
		if (m == "checker" && place != "cross-cpu") continue
		path = ""
		for (j = 0; j <= 24; j++) {
			b = 2 ^ j
			k = "mb" SUBSEP m SUBSEP (m == "checker" ? "same-cpu" : place) SUBSEP b
			if (!(k in have)) continue
			x = sx(b); y = top + height - (log10(have[k]) - LO) / (HI - LO) * height
			path = path (path == "" ? "M" : " L") sprintf("%.1f %.1f", x, y)
			ys = y
		}
		if (path == "") continue
		n++
		c = m == "spin-ring" ? "#000" : m == "checker" ? "#999" : color[(n - 1) % 12 + 1]
		dash = m == "spin-ring" ? " stroke-dasharray=\"6 3\"" : m == "checker" ? " stroke-dasharray=\"2 3\"" : ""
		printf "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s/>\n", path, c, m == "spin-ring" ? 2.5 : 1.6, dash
		ky = top + (n - 1) * 14
		printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>", LEFT + WIDTH + 12, ky + 4, LEFT + WIDTH + 30, ky + 4, c, dash
		printf "<text x=\"%d\" y=\"%d\" class=\"key\">%s</text>\n", LEFT + WIDTH + 34, ky + 8, esc(m == "spin-ring" ? "spin-ring (limit)" : m == "checker" ? "checker alone" : m)
	}
}
function bytes(b) {
	b += 0 # a key of sizes[] is a string, which >= would compare as text
	return b >= 1048576 ? b / 1048576 " MiB" : b >= 1024 ? b / 1024 " KiB" : b " B"
}
END {
	LEFT = 150; WIDTH = 560; BAR = 7; GAP = 6
	split("#4c72b0 #dd8452 #55a868 #c44e52 #8172b3 #937860 #da8bc3 #8c8c8c #ccb974 #64b5cd #2ca02c #d62728", color, " ")
	h1 = nmech * (2 * BAR + GAP); h2 = 300
	total = 60 + (h1 + 90) + 2 * (h2 + 90) + 20
	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"%d\" viewBox=\"0 0 900 %d\" font-family=\"sans-serif\">\n", total, total
	print "<style>.title{font-size:14px;font-weight:bold}.tick{font-size:10px;fill:#555}.name{font-size:11px}.value{font-size:9px;fill:#333}.mark{font-size:10px;fill:#c00}.key{font-size:10px}.axis{font-size:11px;fill:#333}.machine{font-size:10px;fill:#555}</style>"
	print "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
	print "<text x=\"450\" y=\"22\" text-anchor=\"middle\" class=\"title\">ipc-bench: IPC between two processes</text>"
	if (machine != "") printf "<text x=\"450\" y=\"40\" text-anchor=\"middle\" class=\"machine\">%s</text>\n", esc(machine)

	# Panel 1: round trip
	top = 90
	range("rtt" SUBSEP)
	printf "<text x=\"%d\" y=\"%d\" class=\"title\">64-byte round trip, median (shorter is better)</text>\n", LEFT, top - 24
	axis(top, h1, LO, HI, "ns")
	printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"axis\">round-trip time (log scale)</text>\n", LEFT + WIDTH / 2, top + h1 + 30
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
	printf "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"8\" fill=\"#9ecae1\"/><text x=\"%d\" y=\"%d\" class=\"key\">same CPU</text>\n", LEFT + WIDTH + 20, top, LEFT + WIDTH + 34, top + 8
	printf "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"8\" fill=\"#3182bd\"/><text x=\"%d\" y=\"%d\" class=\"key\">two CPUs</text>\n", LEFT + WIDTH + 20, top + 14, LEFT + WIDTH + 34, top + 22

	# Panels 2 and 3: throughput against message size
	range("mb" SUBSEP)
	top += h1 + 90
	split("cross-cpu same-cpu", pl, " ")
	for (j = 1; j <= 2; j++) {
		printf "<text x=\"%d\" y=\"%d\" class=\"title\">one-way streaming, %s (higher is better)</text>\n", LEFT, top - 24, j == 1 ? "processes on two CPUs" : "both processes on one CPU"
		curves(top, h2, pl[j])
		top += h2 + 90
	}
	print "</svg>"
}
' "$1"
