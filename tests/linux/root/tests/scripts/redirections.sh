echo first > out.txt
echo second >> out.txt
cat out.txt
wc -l < out.txt
cat <<END
here $((2 + 3)) $(echo nested)
END
cat <<'END'
literal $HOME
END
{ echo grouped; echo lines; } > g.txt; cat g.txt
echo to-stderr 1>&2
ls nonexistent 2> err.txt; echo "ls status $?"; cat err.txt
exec 3> fd3.txt; echo via-fd3 >&3; exec 3>&-; cat fd3.txt
