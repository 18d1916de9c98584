seq 1 20 | sort -rn | head -3
seq 1 100 | grep 7 | wc -l
printf 'b\na\nc\na\n' | sort | uniq -c
echo "one two three" | tr ' ' '\n' | sort -r
seq 1 10000 | sort -n | tail -1
yes hello | head -n 3
echo abc | sed 's/b/B/' | cat -n
printf '1 2\n3 4\n' | awk '{ s += $1 * $2 } END { print s }'
seq 5 | xargs echo args:
echo a:b:c | cut -d: -f2
