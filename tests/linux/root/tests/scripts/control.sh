for i in 1 2 3; do echo "for $i"; done
i=0; while [ $i -lt 3 ]; do i=$((i + 1)); echo "while $i"; done
case foo in f*) echo matched;; *) echo no;; esac
f() { echo "function $1"; return 4; }; f arg; echo "returned $?"
true && echo and-ok; false || echo or-ok
sh -c 'exit 7'; echo "exit $?"
( exit 9 ); echo "subshell $?"
x=$(echo captured); echo "$x"
echo "$(( 7 * 6 )) $(( 100 / 7 )) $(( 100 % 7 ))"
test -d / && echo root-is-dir
[ "a" = "a" ] && echo strings-equal
set -- p q r; echo "$# $2"
expr 3 + 4
expr length hello
basename /a/b/c.txt .txt
dirname /a/b/c.txt
printf '%05d|%-4s|%x\n' 42 ab 255
