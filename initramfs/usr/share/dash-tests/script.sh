# dash on Zero OS (tests/acceptance/dash.exp): functions, loops, case,
# here-documents, $( ) and pipelines; every line is what Debian's dash
# prints for the same script on Linux.
greet() {
	echo "functions: hello, $1 ($#)"
	return 3
}
greet world one
echo "status: $?"

total=0
i=1
while [ $i -le 10 ]; do
	total=$((total + i))
	i=$((i + 1))
done
echo "while: $total"
for word in alpha beta gamma; do
	printf '%s.' "$word"
done
echo

classify() {
	case $1 in
	[0-9]*) echo number ;;
	*.sh) echo script ;;
	a* | b*) echo ab ;;
	*) echo other ;;
	esac
}
echo "case: $(classify 42) $(classify x.sh) $(classify beta) $(classify zeta)"

name=heredoc
cat <<END
here: $name $((6 * 7))
here: $(echo substituted)
END
cat <<'END'
quoted: $name stays
END

inner=$(echo "$(echo nested) substitution")
echo "subst: $inner, $(($(printf '%s' abc | wc -c))) bytes"
count=$(for n in 1 2 3 4 5; do echo $n; done | grep -c '[135]')
echo "pipeline: $count odd"
( exit 4 )
echo "subshell: $?"
x=outer
( x=inner; echo "subshell sees $x" )
echo "parent keeps $x"
# A program run by exec gets every open descriptor, not just 0-3.
exec 7>/tmp/dash-fd7 9>/tmp/dash-fd9
dash -c 'echo seven >&7; echo nine >&9'
exec 7>&- 9>&-
echo "fds: $(cat /tmp/dash-fd7) $(cat /tmp/dash-fd9)"
echo "dash: done"
