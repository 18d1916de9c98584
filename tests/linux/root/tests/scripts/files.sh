mkdir -p d/e/f
echo data > d/e/f/file
ls -R d
cp d/e/f/file copy
cat copy
mv copy moved
ls
ln -s moved link
cat link
readlink link
rm moved
cat link 2>&1 | sed 's/.*: //'
find d -type f
find d -name e
rmdir d/e/f 2>&1 | sed 's/.*: //'
rm -r d
ls
echo 0123456789 > s
head -c 4 s; echo
tail -c 4 s
wc -c s
touch empty; wc -c empty
chmod 600 s; ls -l s | cut -c1-10
