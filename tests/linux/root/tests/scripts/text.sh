printf 'zeta 3\nalpha 1\nbeta 2\nalpha 9\n' > in
sort in
sort -k2 -n in
sort -u -k1,1 in
grep -c alpha in
grep -v alpha in
grep -n beta in
sed -n '2p' in
sed 's/\([a-z]*\) \([0-9]\)/\2 \1/' in
awk '$2 > 2 { print $1 }' in
awk -F' ' '{ c[$1]++ } END { for (k in c) n++; print n }' in
cut -d' ' -f1 in | uniq
tr 'a-z' 'A-Z' < in
tr -d '0-9' < in | head -2
head -2 in
tail -1 in
wc in
printf '%s\n' b a | sort | tr -d '\n'; echo
echo "hello world" | wc -w
