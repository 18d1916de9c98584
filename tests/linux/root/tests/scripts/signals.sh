trap 'echo got USR1' USR1
kill -USR1 $$
echo after-usr1
sh -c 'trap "echo term caught; exit 3" TERM; kill -TERM $$; echo not-reached'; echo "trapped status $?"
# (whether ash reports "Terminated" here depends on when the child dies
# relative to `wait`, a scheduling race, so the report is not compared)
sleep 10 & kill $!; wait $! 2>/dev/null; echo "killed status $?"
sleep 0 & wait $!; echo "background status $?"
yes | head -n 2
echo "pipeline status $?"
sh -c 'kill -9 $$'; echo "kill -9 status $?"
trap - USR1
sh -c 'trap "" INT; kill -INT $$; echo ignored-int'; echo "ignored status $?"
i=0; for j in 1 2 3; do sleep 0 & done; wait; echo all-waited
