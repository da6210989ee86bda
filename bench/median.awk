# median.awk reads `go test -bench` output and prints, for each benchmark
# and unit, the median of its values over the runs (-count).
/^Benchmark/ {
	name = $1
	for (i = 3; i < NF; i += 2) {
		key = name SUBSEP $(i + 1)
		n[key]++
		v[key, n[key]] = $i
		if (!(key in seen)) { seen[key] = 1; order[++k] = key }
	}
}
END {
	for (j = 1; j <= k; j++) {
		key = order[j]
		m = n[key]
		for (a = 1; a <= m; a++) x[a] = v[key, a] + 0
		for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
		med = (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
		split(key, parts, SUBSEP)
		printf "%-40s %14.4g %-10s (median of %d)\n", parts[1], med, parts[2], m
	}
}
