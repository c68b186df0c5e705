# Acceptance script for the POSIX shell (tests/acceptance/posix_sh.exp runs
# it with `sh FILE` and matches each NAME=value line it prints).

# Functions and recursion.
fact() {
    if [ "$1" -le 1 ]; then
        echo 1
    else
        echo $(( $1 * $(fact $(( $1 - 1 ))) ))
    fi
}
echo "FACT=$(fact 6)"
fib() { if [ $1 -lt 2 ]; then echo $1; return; fi; echo $(( $(fib $(($1 - 1))) + $(fib $(($1 - 2))) )); }
echo "FIB=$(fib 10)"

# Loops with break and continue.
out=
for i in 1 2 3 4 5 6 7 8; do
    [ $i -eq 2 ] && continue
    [ $i -eq 6 ] && break
    out="$out$i"
done
echo "LOOP=$out"
n=0
while :; do
    n=$((n + 1))
    if [ $n -ge 4 ]; then break; fi
done
until [ $n -le 0 ]; do n=$((n - 1)); done
echo "WHILE=$n"
pairs=
for a in 1 2 3; do
    for b in x y z; do
        [ $b = y ] && continue 2
        [ $a = 3 ] && break 2
        pairs="$pairs$a$b "
    done
done
echo "NESTED_LOOPS=${pairs% }"

# case on glob patterns.
kinds=
for f in notes.txt build.sh image.PNG 'odd name' x; do
    case $f in
        *.txt) kinds="${kinds}text," ;;
        *.sh | *.py) kinds="${kinds}script," ;;
        *.[Pp][Nn][Gg]) kinds="${kinds}image," ;;
        *' '*) kinds="${kinds}spaced," ;;
        *) kinds="${kinds}other," ;;
    esac
done
echo "CASE=$kinds"

# Here-documents: expanded, quoted, tab-stripped, two on one line.
name=world
cat <<EOF
HEREDOC=hello $name $((1 + 1)) $(echo sub)
EOF
cat <<'EOF'
QUOTED=$name `not run`
EOF
	cat <<-EOF
	STRIPPED=$name
	EOF
cat <<A; cat <<B
TWO_A=first
A
TWO_B=second
B

# Command substitution, nested, and backquotes.
echo "NESTED=$(echo a$(echo b$(echo c)))`echo d`"

# Arithmetic.
x=7
echo "ARITH=$(( (3 + 4) * 5 % 6 )) $(( 1 << 10 )) $(( x > 3 ? x * 2 : 0 )) $(( -x / 2 )) $((x += 1)) $x"

# read from a file in a while loop.
printf 'alpha 1\nbeta 2\ngamma 3\n' > /tmp/posix-data
sum=0
names=
while read -r word num; do
    sum=$((sum + num))
    names="$names$word "
done < /tmp/posix-data
echo "READ=$sum ${names% }"
IFS=: read -r a b c <<EOF
x:y:z
EOF
echo "IFS_READ=$a-$b-$c"

# Parameter expansion and positional parameters.
p=/usr/lib/libz.so.1
echo "PARAM=${p##*/} ${p%/*} ${p%%.*} ${unset_var:-dflt} ${#p} ${p:+set}"
count() { echo $#; }
set -- "a b" c
echo "ARGS=$(count "$@") $(count $@) $(count "$*") $(count) $#"
set --
echo "EMPTY_ARGS=$(count "$@")"

# Subshells do not change the shell.
y=1
cd /
(y=2; cd /tmp; exit 3)
echo "SUBSHELL=$? $y $(pwd)"

# trap EXIT, in a subshell and in a child shell.
(trap 'echo "TRAP_SUB=$z"' EXIT; z=5)
sh -c 'trap "echo TRAP_SH=ran" EXIT; exit 4'
echo "TRAP_STATUS=$?"

# set -e and its exceptions.
r=$(sh -c 'set -e; echo one; false; echo two')
echo "SET_E=$? [$r]"
r=$(sh -c 'set -e; if false; then :; fi; false || true; ! true; while false; do :; done; echo survived')
echo "SET_E_EXEMPT=$? [$r]"

# getopts.
parse() {
    OPTIND=1
    verbose=0
    output=
    while getopts vo: opt; do
        case $opt in
            v) verbose=1 ;;
            o) output=$OPTARG ;;
            *) return 2 ;;
        esac
    done
    shift $((OPTIND - 1))
    echo "GETOPTS=v$verbose o$output rest=$*"
}
parse -v -o file.txt a b
parse -ofile2 c

# Syntax errors: status 2 and nothing of the broken command runs.
sh -c 'echo ran; if then fi' 2>/dev/null
echo "SYNTAX=$?"
sh -c 'echo $0 $1 $2' zero one two | { read -r line; echo "DASH_C=$line"; }

# local and return.
v=global
scoped() { local v=inner; echo "LOCAL_IN=$v"; return 7; }
scoped
echo "LOCAL_OUT=$? $v"
# A program gets the user's descriptors 3-9, never the shell's own copies
# at 10 and above (here: the saved standard output).
exec 7>/tmp/posix-fd7 9>/tmp/posix-fd9
sh -c 'echo seven >&7; echo nine >&9'
exec 7>&- 9>&-
echo "FDS=$(cat /tmp/posix-fd7) $(cat /tmp/posix-fd9)"
{ sh -c 'echo leaked >&10' 2>/dev/null && echo LEAK || echo NOLEAK; } >/tmp/posix-leak
echo "LEAK_CHECK=$(cat /tmp/posix-leak)"
echo "DONE_SCRIPT"
